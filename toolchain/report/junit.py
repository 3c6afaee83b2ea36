"""JUnit XML for CI: one test case per input, one for the validation verdict."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from toolchain.files import atomic_write


def junit_xml(report: dict) -> str:
    suite = ET.Element("testsuite", name=f"tinyship.{report['model']['name']}.{report['device'].get('board') or 'device'}")
    v = report["validation"] or {}
    tol = v.get("tolerance", 0)
    cases = []
    for s in report["samples"]:
        case = ET.Element("testcase", classname="tinyship.inputs", name=s["name"])
        if s["max_abs_diff"] > tol:
            ET.SubElement(case, "failure", message=f"outputs differ from TFLM by up to {s['max_abs_diff']} "
                          f"(tolerance {tol}), first at output index {s['first_mismatch']}")
        cases.append(case)
    verdict = ET.Element("testcase", classname="tinyship.validation", name="bit-exact vs TFLM")
    if report["status"] != "complete":
        err = report["error"] or {"type": "Interrupted", "message": "the run stopped early"}
        ET.SubElement(verdict, "error", type=err["type"], message=err["message"])
    elif not v.get("passed"):
        ET.SubElement(verdict, "failure", message=f"{v.get('bit_exact', 0)}/{v.get('compared', 0)} bit-exact, "
                      f"max diff {v.get('max_abs_diff')} > tolerance {tol}")
    cases.append(verdict)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: dict, path) -> None:
    atomic_write(path, junit_xml(report))
