"""Run what the Slinky operator wrote on real Slurm and check it: the recorded files
(tests/slurm/test_operator_conf.py) and the live ones read from the API server
(tests/e2e/test_operator_stack.py) go through the same checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.operator import PodSlurmd, operator_release, slurmd_argv
from postrender.slurm.verify import bad_states


def conf_keys_changed(original: str, bound: str) -> set[str]:
    """Keys of the lines that differ between two slurm.conf texts (added, dropped or edited).

    Lines are compared in order; any other difference (a moved or edited NodeSet line) is
    reported by its whole line so a test sees it.
    """
    before, after = original.splitlines(), bound.splitlines()
    changed = set()
    kept = [line for line in after if line in before]
    if kept != [line for line in before if line in after]:
        changed.add("<order>")
    for line in [*(b for b in before if b not in after), *(a for a in after if a not in before)]:
        key, sep, _ = line.partition("=")
        # a one-setting line by its key; a NodeSet or partition line whole
        changed.add(key if sep and " " not in line.strip() else line)
    return changed


def run_and_probe(
    slurm_conf: str, files: Mapping[str, str], pods: Sequence[PodSlurmd], workdir: Path
) -> tuple[str, list[tuple[str, str, int, str]]]:
    """Start the operator's output; return the slurm.conf the daemons read and, for every
    partition holding a GPU node, srun results. Asserts each slurmd runs (read from /proc)
    with its pod's args as :func:`slurmd_argv` binds them, and every node is usable.

    Each result is (partition, --gres, exit status, CUDA_VISIBLE_DEVICES or srun's error):
    ``gpu:N`` and ``gpu:N+1`` for the node's N GPUs. The jobs ask ``--mem-per-gpu=256M``:
    the harness node has this machine's memory, not the instance type's, so a partition's
    ``DefMemPerGPU`` sized for the real node would not fit (``--mem`` does not replace it).
    """
    release = operator_release(slurm_conf, files, pods)
    with SlurmCluster(release, workdir) as cluster:
        written = cluster.slurm_conf.read_text()
        argv = []
        for pid in cluster.processes():
            words = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
            # the daemons, not the children slurmd forks for a job
            if words[:2] == ["/usr/sbin/slurmd", "-D"]:
                argv.append(words)
        nodes = cluster.show_nodes()
        results = []
        for pod in pods:
            record = nodes[pod.hostname]
            assert not bad_states(record["State"]), record
            if not pod.gpu_limit:
                continue
            for partition in record["Partitions"].split(","):
                for count in (pod.gpu_limit, pod.gpu_limit + 1):
                    done = cluster.run(
                        partition,
                        gres=f"gpu:{count}",
                        extra=[
                            "--cpus-per-task=1",
                            "--mem-per-gpu=256M",
                            f"--nodelist={pod.hostname}",
                        ],
                        command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"],
                        immediate=2,
                    )
                    said = done.stdout.strip() if done.returncode == 0 else done.stderr.strip()
                    results.append((partition, f"gpu:{count}", done.returncode, said))
        ports = {node: int(rec["Port"]) for node, rec in nodes.items()}
        expected = [
            ["/usr/sbin/slurmd", "-D", *slurmd_argv(pod.args, ctld, ports[pod.hostname])]
            for pod in pods
            for ctld in [f"127.0.0.1:{cluster.ctld_port}"]
        ]
    assert sorted(argv) == sorted(expected)
    return written, results
