from __future__ import annotations

import pytest

from ocrbench.errors import ConfigError
from ocrbench.registry import correctors, engines, params_of, parse_spec


def test_parse_spec_splits_name_and_parameters() -> None:
    assert parse_spec("tesseract:lang=eng+grc, psm=6") == (
        "tesseract",
        {"lang": "eng+grc", "psm": "6"},
    )
    assert parse_spec("given") == ("given", {})


@pytest.mark.parametrize("spec", ["tesseract:psm", ":psm=3", "tesseract:=3"])
def test_malformed_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_spec(spec)


def test_parameters_are_typed_and_validated() -> None:
    engine = engines.from_spec("tesseract:psm=6,oem=1,lang=eng")
    assert params_of(engine) == {"lang": "eng", "psm": 6, "oem": 1, "config": ""}
    with pytest.raises(ConfigError, match="psm must be between 0 and 13, not 99"):
        engines.from_spec("tesseract:psm=99")
    with pytest.raises(ConfigError, match="psm must be int, not 'six'"):
        engines.from_spec("tesseract:psm=six")


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown engine 'tesseract2'.*did you mean 'tesseract'"):
        engines.from_spec("tesseract2")
    with pytest.raises(ConfigError, match=r"unknown parameter 'lnag'.*did you mean 'lang'"):
        engines.from_spec("tesseract:lnag=eng")
    with pytest.raises(ConfigError, match="unknown corrector 'identty'"):
        correctors.from_spec("identty")


def test_registry_imports_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ocrbench; ocrbench.engines.from_spec('tesseract');"
        "heavy = [m for m in ('torch', 'llama_cpp', 'easyocr', 'matplotlib') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_non_finite_numbers_are_refused_in_one_line(value: object) -> None:
    """NaN slips past every range check (`nan < 0` is false): lexicon:max_cost=nan silently
    corrected nothing and reported its CER as the corrector's."""
    with pytest.raises(ConfigError, match=r"max_cost must be a finite number, not"):
        correctors.create("lexicon", {"max_cost": value})
    with pytest.raises(ConfigError, match=r"margin must be a finite number"):
        correctors.create("noisy-channel", {"margin": value})


def test_the_python_api_works_more_than_once() -> None:
    """README's Python example: `ocrbench.engines.from_spec` twice. Building the first engine
    imports the `ocrbench.engines` package, which rebinds that name from the registry to it."""
    import subprocess
    import sys

    code = (
        "import ocrbench\n"
        "for spec in ('given', 'given', 'tesseract:psm=6'):\n"
        "    ocrbench.engines.from_spec(spec)\n"
        "for spec in ('identity', 'lexicon', 'identity'):\n"
        "    ocrbench.correctors.from_spec(spec)\n"
        "from ocrbench.engines.layout import layout_text\n"
        "assert ocrbench.engines.names() and ocrbench.correctors.create('identity')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_component_strings_take_commas_in_values_and_refuse_a_key_twice() -> None:
    """`easyocr:lang=en,fr`, the form the help shows, failed ("bad parameter 'fr'"); quotes were
    kept in the value; `psm=6,psm=3` silently ran psm 3."""
    assert parse_spec("easyocr:lang=en,fr") == ("easyocr", {"lang": "en,fr"})
    assert parse_spec('tesseract:lang="eng",config="-c a=1,b=2",psm=6') == (
        "tesseract",
        {"lang": "eng", "config": "-c a=1,b=2", "psm": "6"},
    )
    with pytest.raises(ConfigError, match="'psm' is given twice in 'tesseract:psm=6,psm=3'"):
        parse_spec("tesseract:psm=6,psm=3")


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"config": None}, "config: give a value, or leave the key out for its default"),
        ({"lang": False}, "lang: YAML read a yes/no word as true or false: quote it"),
        ({"psm": [3, 6]}, "psm must be int, not [3, 6]"),
        ({"psm": None}, "psm: give a value, or leave the key out for its default"),
    ],
)
def test_values_of_no_kind_or_the_wrong_shape_are_one_line(
    params: dict[str, object], phrase: str
) -> None:
    """`config: ~` became the text "None" (a second configuration that reads like the first);
    `lang: no` became "False"; `psm: [[3, 6]]` or an empty `psm:` was a TypeError traceback."""
    from ocrbench.engines.tesseract import Tesseract
    from ocrbench.registry import build

    with pytest.raises(ConfigError) as error:
        build(Tesseract, params, "engines.tesseract")
    assert phrase in str(error.value), str(error.value)


def test_a_callback_is_no_parameter_of_a_spec() -> None:
    """`noisy-channel:logging=x` was taken, then called at model load: a TypeError traceback."""
    with pytest.raises(ConfigError, match="unknown parameter 'logging'"):
        correctors.from_spec("noisy-channel:logging=x")
