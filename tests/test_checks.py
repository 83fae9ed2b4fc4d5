import numpy as np
import pytest

from mhlib._checks import check_finite_array, check_integer, check_positive_number, check_rank


@pytest.mark.parametrize(
    "value, kwargs, expected",
    [
        (0, {}, 0),
        (np.int64(7), {"minimum": 1}, 7),
        (3, {"minimum": 1, "parity": "odd"}, 3),
        (4, {"minimum": 2, "parity": "even"}, 4),
    ],
)
def test_integer_is_returned_as_int(value, kwargs, expected):
    result = check_integer("n", value, **kwargs)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (-1, {}, "`seed` must be an integer >= 0; got -1"),
        (True, {}, "`seed` must be an integer >= 0; got True"),
        (1.0, {}, "`seed` must be an integer >= 0; got 1.0"),
        ("3", {}, "`seed` must be an integer >= 0; got '3'"),
        (0, {"minimum": 1}, "`seed` must be an integer >= 1; got 0"),
        (2, {"minimum": 1, "parity": "odd"}, "`seed` must be an odd integer >= 1; got 2"),
        (3, {"minimum": 2, "parity": "even"}, "`seed` must be an even integer >= 2; got 3"),
    ],
)
def test_bad_integer_names_the_argument(value, kwargs, message):
    with pytest.raises(ValueError) as error:
        check_integer("seed", value, **kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize("value", [1, 0.25, np.float32(2.5), 1e300])
def test_positive_number_is_returned_as_float(value):
    result = check_positive_number("t", value)
    assert result == pytest.approx(float(value)) and type(result) is float


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "1", None])
def test_bad_positive_number_names_the_argument(value):
    with pytest.raises(ValueError, match=r"^`temperature` must be a finite number > 0; got "):
        check_positive_number("temperature", value)


def test_finite_array_is_float32():
    array = check_finite_array("kernel", [[1, 2], [3, 4]])
    assert array.dtype == np.float32 and array.shape == (2, 2)


@pytest.mark.parametrize(
    "value, count",
    [
        ([1.0, np.nan], "1 NaN or infinite of 2"),
        ([np.inf, -np.inf, 0.0], "2 NaN or infinite of 3"),
        ([1e39], "1 NaN or infinite of 1"),  # beyond float32
    ],
)
def test_non_finite_array_names_the_argument(value, count):
    with pytest.raises(ValueError) as error:
        check_finite_array("kernel", value)
    assert str(error.value) == f"`kernel` must contain only finite values; got {count}"


@pytest.mark.parametrize("value", ["abc", [[1.0, 2.0], [3.0]]])
def test_non_numeric_array_names_the_argument(value):
    with pytest.raises(ValueError, match="^`kernel` must be an array of numbers"):
        check_finite_array("kernel", value)


def test_rank():
    check_rank("set_a", (None, 4, 3), ("batch", "elements", "features"))
    with pytest.raises(ValueError) as error:
        check_rank("set_a", (1, 4, 3), ("batch", "elements"))
    assert str(error.value) == (
        "`set_a` must have shape (batch, elements), i.e. rank 2; got shape (1, 4, 3)"
    )
