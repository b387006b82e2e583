"""`slinky verify`'s steps and where it stops, on the command line, with a stand-in kubectl
(tests/kubectl_standin.py) serving the real operator's recorded objects. The same steps run
against a real API server and operator in tests/e2e/test_operator_stack.py; against a real
slurmctld in tests/slurm/test_verify.py."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner, Result
from kubectl_standin import GROUP, calls, kubectl_standin, recorded_objects

from postrender.cli.slinky import slinky_main
from postrender.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_USAGE

PROFILES = Path(__file__).resolve().parents[2] / "testdata" / "examples" / "profiles.yaml"
EXEC = "exec -n hpc ml-slurm-controller-0 -c slurmctld -- scontrol --all show partition -o"
REFUSED = 'Error from server (NotFound): pods "ml-slurm-controller-0" not found'


def verify(tmp_path: Path, *args: str, profile: str | None = None) -> Result:
    path = tmp_path / "profiles.yaml"
    path.write_text(profile if profile is not None else PROFILES.read_text())
    return CliRunner().invoke(
        slinky_main, ["verify", "-c", str(path), "-n", "hpc", "--release", "ml", *args]
    )


def test_the_objects_are_checked_then_it_stops_at_the_exec(tmp_path: Path) -> None:
    kubectl, record = kubectl_standin(tmp_path, recorded_objects("ml-slurm"))
    result = verify(tmp_path, "--kubectl", kubectl)
    assert result.exit_code == EXIT_INPUT, result.output
    assert result.stdout == f"STOPPED {kubectl} {EXEC}: {REFUSED}\n"
    assert "cannot read the Slurm state" in result.stderr and EXEC in result.stderr
    assert [argv[0] for argv in calls(record)] == ["get"] * 5 + ["exec"]


def test_a_mismatch_in_the_objects_is_reported_before_the_stop(tmp_path: Path) -> None:
    kubectl, _ = kubectl_standin(tmp_path, recorded_objects("ml-slurm"))
    wants = PROFILES.read_text().replace("MaxTime: 2-00:00:00", "MaxTime: 3-00:00:00")
    result = verify(tmp_path, "--kubectl", kubectl, "--format", "json", profile=wants)
    assert result.exit_code == EXIT_FINDINGS, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["stopped"] == f"{kubectl} {EXEC}: {REFUSED}"
    assert [
        (f["kind"], f["partition"], f["actual"], f["expected"]) for f in report["findings"]
    ] == [("option", "gpu-partition", "2-00:00:00", "3-00:00:00")]


def test_a_nodeset_without_pods_is_a_note(tmp_path: Path) -> None:
    objects = recorded_objects("ml-slurm")
    objects["pods"]["items"] = [p for p in objects["pods"]["items"] if "cpu" not in str(p)]
    kubectl, _ = kubectl_standin(tmp_path, objects)
    result = verify(tmp_path, "--kubectl", kubectl)
    assert result.exit_code == EXIT_INPUT
    assert "note: partition cpu-partition: NodeSet cpu has no pods yet" in result.stdout


def test_unreadable_objects_stop_before_slurm(tmp_path: Path) -> None:
    kubectl, record = kubectl_standin(tmp_path, recorded_objects("other-slurm"))
    result = verify(tmp_path, "--kubectl", kubectl)
    assert result.exit_code == EXIT_INPUT and result.stdout == ""
    assert "cannot read the operator's configuration" in result.stderr
    assert "get -n hpc configmap ml-slurm-config -o json: Error from server" in result.stderr
    assert len(calls(record)) == 1


def test_scontrol_alone_skips_the_objects_and_with_kubectl_checks_them(tmp_path: Path) -> None:
    failing = shlex.join([sys.executable, "-c", "raise SystemExit('no route to host')"])
    alone = verify(tmp_path, "--scontrol", failing)
    assert alone.exit_code == EXIT_INPUT
    assert alone.stdout.startswith(
        "note: the operator's objects were not checked (--scontrol without --kubectl)\nSTOPPED "
    )
    kubectl, record = kubectl_standin(tmp_path, recorded_objects("ml-slurm"))
    wants = PROFILES.read_text().replace("MaxTime: 30", "MaxTime: 45")
    both = verify(tmp_path, "--scontrol", failing, "--kubectl", kubectl, profile=wants)
    assert both.exit_code == EXIT_FINDINGS
    assert "MISMATCH partition debug: slurm.conf (ConfigMap hpc/ml-slurm-config): " in both.stdout
    assert "no route to host" in both.stdout
    assert [argv[0] for argv in calls(record)] == ["get"] * 5


def test_names_are_checked_before_kubectl_runs(tmp_path: Path) -> None:
    kubectl, record = kubectl_standin(tmp_path, {})
    result = verify(tmp_path, "--kubectl", kubectl, "--release", "--server=https://x")
    assert result.exit_code == EXIT_USAGE
    assert "is not a Kubernetes name" in result.stderr
    assert not record.exists()


def test_a_config_file_ref_that_is_not_a_name_is_not_passed_to_kubectl(tmp_path: Path) -> None:
    objects = recorded_objects("ml-slurm")
    objects["controllers.slinky.slurm.net ml-slurm"]["spec"]["configFileRefs"] = [
        {"name": "--server=https://x"}
    ]
    kubectl, record = kubectl_standin(tmp_path, objects)
    result = verify(tmp_path, "--kubectl", kubectl)
    assert result.exit_code == EXIT_INPUT and result.stdout == ""
    assert "configFileRefs names '--server=https://x', not a Kubernetes name" in result.stderr
    assert not any("--server=https://x" in argv for argv in calls(record))


def test_an_unknown_partition_is_reported_once(tmp_path: Path) -> None:
    kubectl, _ = kubectl_standin(tmp_path, recorded_objects("ml-slurm"))
    answers = shlex.join([sys.executable, "-c", "print('PartitionName=debug Nodes=gpu-0')"])
    args = ["--kubectl", kubectl, "--scontrol", answers, "--partition", "nope"]
    result = verify(tmp_path, *args, "--format", "json")
    assert result.exit_code == EXIT_FINDINGS, result.output
    kinds = [f["kind"] for f in json.loads(result.stdout)["findings"]]
    assert kinds == ["unknown-partition"]


def test_a_command_that_does_not_split_is_a_usage_error(tmp_path: Path) -> None:
    for option in ("--kubectl", "--scontrol"):
        result = verify(tmp_path, option, "kubectl 'x")
        assert result.exit_code == EXIT_USAGE, result.output
        assert f"Invalid value for {option}" in result.output
        assert "No closing quotation" in result.output and "Traceback" not in result.output


def test_odd_objects_from_kubectl_are_skipped_not_a_traceback(tmp_path: Path) -> None:
    objects = recorded_objects("ml-slurm")
    objects[f"nodesets.{GROUP}"]["items"] += [{"spec": {"controllerRef": {"name": "ml-slurm"}}}, 7]
    objects["pods"]["items"].append({"metadata": {"ownerReferences": ["x", None]}})
    kubectl, _ = kubectl_standin(tmp_path, objects)
    result = verify(tmp_path, "--kubectl", kubectl)
    assert result.exit_code == EXIT_INPUT, result.output
    assert result.stdout.startswith("STOPPED ") and isinstance(result.exception, SystemExit)
