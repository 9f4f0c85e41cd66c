"""The cluster's GPU nodes as the admission policy sees them: per GPU type, node indices
0..n-1 in natural name order (``gpu2`` before ``gpu10``), so a placement the policy decides
maps to node names the same way every time.

Read from ``sinfo -N`` (name, GRES, state, features) and ``scontrol show reservation``: a
node is unavailable when it is down, drained or draining, not responding, failing, in
maintenance, or in an active reservation the platform did not make.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from booking.cluster.base import GpuTypeNodes

SINFO_FORMAT = "%N|%G|%T|%f"
_BRACKET = re.compile(r"^(?P<head>[^\[]*)\[(?P<ranges>[^\]]*)\](?P<tail>.*)$")
_GPU_GRES = re.compile(r"^gpu(?::(?P<type>[^:(]+))?:(?P<count>\d+)")
_AVAILABLE_STATES = frozenset({"idle", "mixed", "allocated", "completing", "planned", "reserved"})
_HARMLESS_FLAGS = frozenset("~#-")  # powered down (resumes on demand), powering up, planned
_PAIR = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True)
class SlurmNode:
    name: str
    gres_type: str
    gpus: int
    available: bool
    features: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NodeLayout:
    """Per platform GPU type: its nodes (``GpuTypeNodes``) and their Slurm names by index."""

    types: Mapping[str, GpuTypeNodes]
    names: Mapping[str, tuple[str, ...]]
    features: Mapping[str, str] = field(default_factory=dict)
    """Per GPU type, the node feature every node of it carries (its GRES type), if any."""

    def node_names(self, gpu_type: str, indices: Iterable[int]) -> list[str]:
        """Slurm names of node ``indices`` of ``gpu_type``; IndexError/KeyError if unknown."""
        names = self.names[gpu_type]
        return [names[index] for index in indices]

    def node_indices(self, gpu_type: str, names: Iterable[str]) -> tuple[int, ...]:
        order = {name: index for index, name in enumerate(self.names.get(gpu_type, ()))}
        return tuple(sorted(order[name] for name in names if name in order))

    def unreachable(self) -> NodeLayout:
        """The same nodes, all unavailable: what a cluster that does not answer offers."""
        return NodeLayout(
            types={
                name: GpuTypeNodes(
                    gpu_type=name,
                    nodes=nodes.nodes,
                    gpus_per_node=nodes.gpus_per_node,
                    unavailable=frozenset(range(nodes.nodes)),
                )
                for name, nodes in self.types.items()
            },
            names=self.names,
            features=self.features,
        )


def hostnames(hostlist: str) -> list[str]:
    """``gpu[1-3,07],login1`` → ``['gpu1', 'gpu2', 'gpu3', 'gpu07', 'login1']``."""
    names: list[str] = []
    for part in _split_top_level(hostlist.strip()):
        names.extend(_expand(part))
    return names


def _split_top_level(hostlist: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in hostlist:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part and part != "(null)"]


def _expand(pattern: str) -> list[str]:
    match = _BRACKET.match(pattern)
    if match is None:
        return [pattern]
    head, tail = match["head"], _expand(match["tail"])
    names: list[str] = []
    for item in match["ranges"].split(","):
        low, _, high = item.partition("-")
        width = len(low)
        for number in range(int(low), int(high or low) + 1):
            names.extend(f"{head}{number:0{width}d}{rest}" for rest in tail)
    return names


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``gpu2`` before ``gpu10``."""
    return tuple(
        (0, int(chunk)) if chunk.isdigit() else (1, chunk) for chunk in re.findall(r"\d+|\D+", name)
    )


def node_available(state: str) -> bool:
    """sinfo's long state (``idle``, ``drained``, ``mixed*``, ``idle~``) → usable now."""
    base = state.rstrip("*~#!%$@^-+")
    flags = set(state[len(base) :])
    return base in _AVAILABLE_STATES and flags <= _HARMLESS_FLAGS


def parse_sinfo(text: str) -> list[SlurmNode]:
    """``sinfo -h -N -o '%N|%G|%T|%f'`` → GPU nodes, once each (sinfo repeats a node per
    partition). A node without a GPU type in its GRES takes it from its features."""
    nodes: dict[str, SlurmNode] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 4 or fields[0] in nodes:
            continue
        name, gres, state, features = fields
        gpu = next(filter(None, map(_GPU_GRES.match, gres.split(","))), None)
        if gpu is None:
            continue
        gres_type = gpu["type"] or next(iter(features.split(",")), "")
        nodes[name] = SlurmNode(
            name=name,
            gres_type=gres_type.lower(),
            gpus=int(gpu["count"]),
            available=node_available(state),
            features=frozenset(features.lower().split(",")),
        )
    return list(nodes.values())


def reservation_fields(line: str) -> dict[str, str]:
    """One line of ``scontrol show reservation -o`` → its ``Name=value`` fields."""
    return dict(_PAIR.findall(line))


def reserved_nodes(text: str, *, own_prefix: str) -> set[str]:
    """Nodes of active reservations the platform did not make (``scontrol show reservation
    -o``): maintenance windows, an admin's debugging session."""
    reserved: set[str] = set()
    for line in text.splitlines():
        fields = reservation_fields(line)
        if fields.get("State") != "ACTIVE":
            continue
        if own_prefix and fields.get("ReservationName", "").startswith(own_prefix):
            continue
        reserved.update(hostnames(fields.get("Nodes", "")))
    return reserved


def node_layout(
    nodes: Iterable[SlurmNode], gres_types: Mapping[str, str], reserved: set[str]
) -> NodeLayout:
    """Group the nodes by platform GPU type (``gres_types``: platform name → GRES type)."""
    platform_name = {gres: name for name, gres in gres_types.items()}
    grouped: dict[str, list[SlurmNode]] = {}
    for node in nodes:
        name = platform_name.get(node.gres_type)
        if name is not None:
            grouped.setdefault(name, []).append(node)
    types, names, features = {}, {}, {}
    for name, members in grouped.items():
        members.sort(key=lambda node: natural_key(node.name))
        names[name] = tuple(node.name for node in members)
        if all(node.gres_type in node.features for node in members):
            features[name] = members[0].gres_type
        types[name] = GpuTypeNodes(
            gpu_type=name,
            nodes=len(members),
            # Mixed node sizes: the smallest, so a placement never asks a node for too many.
            gpus_per_node=min(node.gpus for node in members),
            unavailable=frozenset(
                index
                for index, node in enumerate(members)
                if not node.available or node.name in reserved
            ),
        )
    return NodeLayout(types=types, names=names, features=features)
