"""The catalog agrees with the marked sources and with the docs it points to."""

import re
from pathlib import Path

from numrnn.exercises.catalog import EXERCISES, FILES
from numrnn.exercises.markers import marked_functions
from numrnn.exercises.student import source_path

ROOT = Path(__file__).resolve().parents[2]


def test_every_marked_function_is_an_exercise_and_back():
    marked = set()
    for file, module in FILES.items():
        names = marked_functions(source_path(module).read_text(), module)
        assert names, f"{module} has no solution region"
        marked |= {(file, n) for n in names}
    assert marked == {(e.file, e.name) for e in EXERCISES}


def test_the_issue_s_exercises_are_all_there():
    names = {e.name for e in EXERCISES}
    assert {"rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "linear_backward",
            "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "lstm_step_backward",
            "gru_step_backward", "numerical_gradient", "clip_grad_norm"} <= names


def test_backward_exercises_name_a_forward_of_their_file():
    for e in EXERCISES:
        if e.kind == "backward":
            assert e.forward and e.cases
            module = __import__(FILES[e.file], fromlist=["x"])
            assert callable(getattr(module, e.forward))


def test_derivation_labels_exist_in_the_docs():
    """Every (n), (Lk), (Gk) a row points to is a label of the doc it names."""
    for e in EXERCISES:
        for ref in e.derivation.values():
            doc = ref.split()[0].rstrip(",:")
            text = (ROOT / doc).read_text()
            for label in re.findall(r"\(([LG]?\d+)\)", ref):
                assert f"({label})" in text, f"{doc} has no equation ({label}), named by {e.name}"
            for section in re.findall(r", ([A-Z][a-z]+(?: [a-z]+)*)", ref):
                assert re.search(rf"^#+ .*{section}", text, re.M | re.I), f"{doc} has no section {section}"
