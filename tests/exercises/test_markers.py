"""nbgrader's markers: regions found, stubbed, attributed to their function; bad ones refused."""

import pytest

from numrnn.exercises.markers import marked_functions, solution_regions, student_version

SOURCE = '''def f(x):
    """Doc."""
    y = 1
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION


def g(x):
    return x
'''


def test_region_is_replaced_by_the_stub_with_its_indent():
    out = student_version(SOURCE)
    assert "x + 1" not in out and "BEGIN SOLUTION" not in out
    stub = '    """Doc."""\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n\ndef g'
    assert stub in out
    ns = {}
    exec(compile(out, "student", "exec"), ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)
    assert ns["g"](3) == 3


def test_regions_and_functions():
    assert solution_regions(SOURCE) == [(3, 6)]
    assert marked_functions(SOURCE) == ["f"]


@pytest.mark.parametrize("text, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    pass\n", "never closed"),
    ("def f():\n    pass\n    ### END SOLUTION\n", "without a"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n",
     "inside the region"),
])
def test_unbalanced_markers_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        solution_regions(text, "f.py")


def test_region_outside_a_function_is_refused():
    with pytest.raises(ValueError, match="outside any function"):
        marked_functions("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n")


def test_two_regions_in_one_function_are_refused():
    text = ("def f():\n    ### BEGIN SOLUTION\n    a = 1\n    ### END SOLUTION\n"
            "    ### BEGIN SOLUTION\n    return a\n    ### END SOLUTION\n")
    with pytest.raises(ValueError, match="two solution regions"):
        marked_functions(text)
