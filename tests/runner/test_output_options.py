"""The scenario's [output] section (table format, figure format and resolution, start date, plots) and its
command-line overrides, checked like every other scenario key."""

import pytest

from cosim.config import OutputOptions, ScenarioFileError, parse_scenario, with_output

BASE = {"name": "o", "controller": {"name": "none"}, "lots": []}


def test_defaults_and_values():
    assert parse_scenario(BASE).output == OutputOptions("csv", "png", 300, "2024-01-01")
    out = parse_scenario({**BASE, "output": {"format": "parquet", "figure_format": "pdf", "dpi": 600,
                                             "start_date": "2023-06-01", "plots": False}}).output
    assert out == OutputOptions("parquet", "pdf", 600, "2023-06-01", plots=False)
    assert parse_scenario(BASE).output.plots is True  # figures unless asked otherwise


@pytest.mark.parametrize("output, match", [
    ({"format": "xlsx"}, "output.format: 'xlsx' is not allowed; allowed: csv, parquet"),
    ({"figure_format": "gif"}, "output.figure_format"), ({"dpi": 20}, "output.dpi: must be >= 50"),
    ({"start_date": "1st of May"}, "output.start_date: must be an ISO date"), ({"colour": "red"}, "unknown key"),
    ({"plots": "no"}, "output.plots: must be bool, got 'no'"), ({"plots": 0}, "output.plots: must be bool, got 0"),
])
def test_bad_output_options_name_the_key(output, match):
    with pytest.raises(ScenarioFileError, match=match):
        parse_scenario({**BASE, "output": output})


def test_command_line_overrides_keep_the_rest_and_reach_the_manifest():
    scenario = parse_scenario({**BASE, "output": {"start_date": "2025-01-01"}})
    changed = with_output(scenario, figure_format="svg", dpi=150)
    assert changed.output == OutputOptions("csv", "svg", 150, "2025-01-01")
    assert changed.raw["output"] == {"start_date": "2025-01-01", "figure_format": "svg", "dpi": 150}
    assert scenario.raw["output"] == {"start_date": "2025-01-01"}  # the original is untouched
    with pytest.raises(ScenarioFileError, match="dpi"):
        with_output(scenario, dpi=5000)


def test_no_plots_from_the_command_line_reaches_the_manifest():
    """`cosim run --no-plots` is `[output] plots = false`, recorded in the scenario the manifest keeps."""
    changed = with_output(parse_scenario(BASE), plots=False)
    assert changed.output.plots is False and changed.raw["output"] == {"plots": False}
