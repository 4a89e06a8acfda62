"""junit.xml: one testcase per expectation, so CI shows each as passed or failed (R7.2).

A failure carries what was measured and the threshold it missed; an aborted
or errored scenario is one testcase in error with the reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chaosgate.engine.events import Event, RunFinished
from chaosgate.results import ScenarioResult


def _scenario_suite(scenario: ScenarioResult) -> ET.Element:
    cases = [e for e in scenario.expectations if e.applicable]
    suite = ET.Element(
        "testsuite",
        name=scenario.id,
        tests=str(max(len(cases), 1)),
        time=f"{scenario.duration:.3f}",
        failures=str(sum(1 for e in cases if not e.passed)),
        errors="1" if scenario.status in ("aborted", "error") else "0",
        skipped=str(sum(1 for e in scenario.expectations if not e.applicable)),
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="score", value=f"{scenario.score:g}")
    if scenario.status == "skipped":
        suite.set("tests", "1")
        suite.set("skipped", "1")
        case = ET.SubElement(suite, "testcase", classname=scenario.id, name="skipped")
        ET.SubElement(case, "skipped", message=scenario.reason)
        return suite
    if scenario.status in ("aborted", "error"):
        case = ET.SubElement(suite, "testcase", classname=scenario.id, name=scenario.status)
        ET.SubElement(case, "error", message=scenario.reason, type=scenario.status).text = scenario.reason
        return suite
    for expectation in scenario.expectations:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{scenario.id}.{expectation.window}",
            name=f"{expectation.id} {expectation.name}",
        )
        if not expectation.applicable:
            ET.SubElement(case, "skipped", message=expectation.reason or "not applicable")
        elif not expectation.passed:
            measured = expectation.measured or "nothing measured"
            message = f"measured {measured}; threshold {expectation.threshold or '-'}"
            failure = ET.SubElement(
                case, "failure", message=message, type="critical" if expectation.critical else "sla"
            )
            failure.text = f"{message}\n{expectation.reason}"
    return suite


class JUnitReport:
    """Writes ``junit.xml`` when the run finishes."""

    filename = "junit.xml"

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / self.filename

    def handle(self, event: Event) -> None:
        if not isinstance(event, RunFinished):
            return
        run = event.result
        root = ET.Element("testsuites", name=f"chaosgate {run.run_id}", time=f"{run.duration:.3f}")
        for scenario in run.scenarios:
            root.append(_scenario_suite(scenario))
        ET.indent(root)
        ET.ElementTree(root).write(self.path, encoding="utf-8", xml_declaration=True)

    def close(self) -> None:
        """Nothing is held open between events."""
