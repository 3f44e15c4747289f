"""The notebooks (jupytext sources in notebooks/) execute top to bottom in a kernel of this
Python; each ends with assertions on what it computed."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("notebook_build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

TUTORIALS = ["diagnostics", "tutorial_chars", "tutorial_classify", "tutorial_hello", "tutorial_sine"]
EXERCISES = ["exercises_gradcheck", "exercises_rnn", "exercises_layers", "exercises_lstm", "exercises_gru"]


def test_every_tutorial_and_exercise_set_has_a_notebook_source():
    names = [p.stem for p in build.sources()]
    assert set(TUTORIALS) | set(EXERCISES) == set(names)  # and the runner itself is not one
    assert [build.is_exercise(build.read(build.sources([n])[0])) for n in TUTORIALS + EXERCISES] == \
        [False] * len(TUTORIALS) + [True] * len(EXERCISES)


def test_the_exercise_notebooks_cover_every_student_file():
    from numrnn.exercises.catalog import FILES

    text = "".join(p.read_text(encoding="utf-8") for p in build.sources(EXERCISES))
    assert all(f'load("{name}")' in text for name in FILES)


def test_unknown_name_is_refused():
    with pytest.raises(SystemExit, match="no notebook source named nope"):
        build.sources(["nope"])


def test_kernel_is_this_python(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
                      "# %%\nimport sys\nprint(sys.executable)\n", encoding="utf-8")
    nb = build.execute(build.read(source), cwd=tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable


@pytest.mark.slow
@pytest.mark.parametrize("name", TUTORIALS)
def test_notebook_runs_top_to_bottom(name):
    (source,) = build.sources([name])
    nb = build.execute(build.read(source), timeout=600)
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    if name.startswith("tutorial"):  # the tutorials say which code ran: the textbook
        assert "ran numrnn/functional/" in text and "the NumPy reference" in text


def test_parameters_are_set_after_the_tagged_cell(tmp_path):
    source = tmp_path / "params.py"
    source.write_text("# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
                      '# %% tags=["parameters"]\nFOLDER = "default"\n\n# %%\nprint(FOLDER)\n',
                      encoding="utf-8")
    nb = build.execute(build.read(source), cwd=tmp_path, timeout=60, parameters={"FOLDER": "given"})
    assert nb.cells[1].metadata["tags"] == ["injected-parameters"]
    assert nb.cells[-1].outputs[0]["text"].strip() == "given"
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        build.inject(build.read(ROOT / "notebooks" / "tutorial_hello.py"), {"X": 1})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A student's folder and a solutions folder, as ``exercises make`` writes them."""
    from numrnn.exercises.student import make

    root = tmp_path_factory.mktemp("exercises")
    make(root / "student")
    make(root / "solutions", solutions=True)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", EXERCISES)
def test_exercise_notebook_solution_version_runs_top_to_bottom(name, folders):
    (source,) = build.sources([name])
    nb = build.execute(build.read(source), cwd=folders, timeout=600,
                       parameters={"FOLDER": str(folders / "solutions")})
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert "PASSED" in "".join(o.get("text", "") for o in outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXERCISES)
def test_exercise_notebook_student_version_stops_at_the_first_exercise(name, folders):
    from nbclient.exceptions import CellExecutionError

    (source,) = build.sources([name])
    nb = build.read(source)
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        build.execute(nb, cwd=folders, timeout=600, parameters={"FOLDER": str(folders / "student")})
    first_exercise = next(i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", []))
    failed = [i for i, c in enumerate(nb.cells)
              if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert failed == [first_exercise]
    (error,) = [o for o in nb.cells[first_exercise].outputs if o.output_type == "error"]
    assert error.ename == "NotImplementedError"
    ran = [c for c in nb.cells[:first_exercise] if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in ran)  # every cell before it ran
