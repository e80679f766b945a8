"""`irforge viz`: the drawings render and say what the overlays computed.

Every SVG (and every SVG inside an HTML page) is parsed and checked: well-formed, one
`<g class="node">` per drawn node, a legend, each node's fill equal to its legend entry's swatch,
no two boxes of a rank overlapping, every box inside the viewBox. Overlay values are checked
against an independent computation (ops, precisions, the float64 reference run) and, where the
`resvg-py` rasterizer is installed, the PNG it renders has each node's colour at that node.
"""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import compiler
from compiler.cli import main
from compiler.text.printer import Namer, graph_values
from compiler.viz.diagram import Box, Diagram
from compiler.viz.layout import layout
from compiler.viz.overlay import error_scheme, sqnr_scheme
from compiler.viz.values import precision_of

ROOT = Path(__file__).resolve().parent.parent
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"
DIGITS = ROOT / "examples" / "models" / "mnist_digits.npz"
NS = "{http://www.w3.org/2000/svg}"


def _translate(el: ET.Element) -> tuple[float, float]:
    m = re.match(r"translate\(([-\d.]+),([-\d.]+)\)", el.get("transform", ""))
    return (float(m[1]), float(m[2])) if m else (0.0, 0.0)


def _boxes(root: ET.Element) -> list[dict[str, Any]]:
    """Every box group (node, io, stub) with its rect in absolute coordinates."""
    found: list[dict[str, Any]] = []

    def walk(el: ET.Element, dx: float, dy: float) -> None:
        tx, ty = _translate(el)
        dx, dy = dx + tx, dy + ty
        if el.tag == f"{NS}g" and el.get("class") in ("node", "io", "stub"):
            rect = el.find(f"{NS}rect")
            assert rect is not None and el.find(f"{NS}title") is not None
            x, y = dx + float(rect.get("x", 0)), dy + float(rect.get("y", 0))
            w, h = float(rect.get("width", 0)), float(rect.get("height", 0))
            found.append({"el": el, "x": x, "y": y, "w": w, "h": h, "fill": rect.get("fill")})
            return
        for child in el:
            walk(child, dx, dy)

    walk(root, 0.0, 0.0)
    return found


def check_svg(text: str) -> tuple[ET.Element, list[dict[str, Any]], dict[str, str]]:
    """Parse and check one SVG drawing; returns the root, its boxes and the legend."""
    root = ET.fromstring(text)
    assert root.tag == f"{NS}svg"
    legend = {r.get("data-label", ""): r.get("fill", "") for r in root.iter(f"{NS}rect")
              if r.get("class") == "swatch"}  # fmt: skip
    assert legend, "no legend"
    boxes = _boxes(root)
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for b in boxes:
        assert 0 <= b["x"] and b["x"] + b["w"] <= width and 0 <= b["y"]
        assert b["y"] + b["h"] <= height
        if b["el"].get("class") == "node":
            assert b["fill"] == legend[b["el"].get("data-category")], b["el"].get("data-name")
    rows: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for b in boxes:
        rows.setdefault((b["el"].get("id").rsplit("-", 1)[0], b["y"]), []).append(b)
    for row in rows.values():
        row.sort(key=lambda b: b["x"])
        for a, c in zip(row, row[1:], strict=False):
            assert a["x"] + a["w"] <= c["x"] + 1e-6, "boxes overlap"
    return root, boxes, legend


def nodes_of(boxes: list[dict[str, Any]]) -> dict[str, ET.Element]:
    return {b["el"].get("data-name"): b["el"] for b in boxes if b["el"].get("class") == "node"}


def printed(graph: compiler.Graph) -> dict[str, Any]:
    namer = Namer(graph_values(graph))
    return {namer.name(n.outputs[0]): n for n in graph.nodes if n.op != "const"}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.pages = 0
        self.panels = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        self.pages += tag == "div" and cls.split()[0:1] == ["page"]
        self.panels += tag == "section" and cls == "panel"
        self.scripts += tag == "script"


def check_html(text: str) -> tuple[_Html, list[str]]:
    """Parse the page; returns its counts and its SVG drawings (each checked)."""
    parser = _Html()
    parser.feed(text)
    parser.close()
    svgs = re.findall(r"<svg .*?</svg>", text, flags=re.S)
    assert parser.scripts == 1 and parser.pages == len(svgs) >= 1
    for svg in svgs:
        check_svg(svg)
    return parser, svgs


def viz(tmp_path: Path, *args: str, name: str = "g.svg", model: Path = MNIST) -> str:
    out = tmp_path / name
    assert main(["viz", str(model), "-o", str(out), *args]) == 0
    return out.read_text()


def test_op_overlay_draws_every_node(tmp_path: Path) -> None:
    graph = compiler.load(MNIST)
    _, boxes, legend = check_svg(viz(tmp_path, "--collapse", "none"))
    nodes = nodes_of(boxes)
    want = printed(graph)
    drawn = [b for b in boxes if b["el"].get("class") == "node"]
    assert set(nodes) == set(want) and len(drawn) == len(want)
    assert all(nodes[n].get("data-category") == want[n].op for n in want)
    assert not [t for t in nodes["conv2d"].iter(f"{NS}text") if t.get("class") == "note"]
    assert set(legend) == {n.op for n in want.values()}
    title = nodes["conv2d"].find(f"{NS}title")
    assert title is not None and "mnist_cnn_raw.onnx" in (title.text or "")
    assert "f32[batch,16,28,28]" in (title.text or "")


def test_error_overlay_before_after_matches_a_float64_run(tmp_path: Path, capsys: Any) -> None:
    from backends.numpy import compile as compile_program
    from compiler.passmanager.numerics import random_inputs

    text = viz(tmp_path, "--overlay", "error", "--pipeline", "default", "--before-after")
    root, boxes, legend = check_svg(text)
    out, err = capsys.readouterr()
    assert "random inputs (seed 0)" in err and "38 ops (+35 constants hidden) / 7 ops" in out
    assert header_notes(root) == [
        "inputs: random inputs (seed 0) — pass --inputs FILE.npz for real data"
    ]
    original = compiler.load(MNIST)
    after = original.clone()
    compiler.optimize(after, "default")
    arrays = random_inputs(original.inputs, 0, {"batch": 1})
    truth = compile_program(original)(arrays, float64=True, capture=True).captured
    got = compile_program(after)(arrays, capture=True).captured
    scheme = error_scheme()
    drawn = [b["el"] for b in boxes if b["el"].get("id", "").startswith("p1-")]
    assert len(drawn) == len(after) - sum(1 for n in after.nodes if n.op == "const") + 2
    for el in drawn:
        name = el.get("data-name", "")
        if el.get("class") != "node":
            continue
        want = np.max(np.abs(got[name] - truth[name])) / np.max(np.abs(truth[name]))
        assert math.isclose(float(el.get("data-number", "nan")), want, rel_tol=1e-9, abs_tol=0)
        assert el.get("data-category") == scheme.labels[scheme.bin(want)]
        assert note_of(el) == ("0" if want == 0 else f"{want:.1e}")
    assert set(scheme.labels) <= set(legend)
    assert any(e.get("data-number") not in ("0.0", None) for e in root.iter(f"{NS}g"))


def test_precision_overlay_after_int8_weights_and_fp16(tmp_path: Path) -> None:
    graph = compiler.load(MNIST)
    compiler.optimize(graph, "trt-int8")
    _, boxes, _ = check_svg(viz(tmp_path, "--overlay", "precision", "--pipeline", "trt-int8"))
    nodes = nodes_of(boxes)
    for name, node in printed(graph).items():
        assert nodes[name].get("data-category") == note_of(nodes[name]) == precision_of(node)
    convs = [n for n, node in printed(graph).items() if node.op == "conv"]
    assert len(convs) == 5 and all(nodes[c].get("data-category") == "int8 compute" for c in convs)
    assert sum(e.get("data-category") == "int8 Q/DQ" for e in nodes.values()) == 6
    _, boxes, _ = check_svg(viz(tmp_path, "--overlay", "precision", "--pipeline", "trt-fp16",
                                "--force"))  # fmt: skip
    kinds = {e.get("data-op"): e.get("data-category") for e in nodes_of(boxes).values()}
    assert kinds["conv"] == kinds["gemm"] == "fp16" and kinds["cast"] == "cast"


def test_error_overlay_on_given_inputs_says_so(tmp_path: Path, capsys: Any) -> None:
    inputs = tmp_path / "digit.npz"
    np.savez(inputs, x=np.load(DIGITS)["x"][:1])
    root, boxes, _ = check_svg(viz(tmp_path, "--overlay", "error", "--inputs", str(inputs)))
    assert header_notes(root) == ["inputs: digit.npz"] and "note" not in capsys.readouterr().err
    title = [t.text or "" for t in root.iter(f"{NS}text") if t.get("class") == "page-title"]
    drawn = [b for b in boxes if b["el"].get("class") == "node"]
    assert title == [f"mnist_cnn_raw.onnx · {len(drawn)} ops (+35 constants hidden)"]


def test_sensitivity_overlay_on_the_bundled_digits(tmp_path: Path, capsys: Any) -> None:
    text = viz(tmp_path, "--overlay", "sensitivity", "--calib", str(DIGITS), name="s.html")
    assert "note" not in capsys.readouterr().err
    _, svgs = check_html(text)
    root, boxes, _ = check_svg(svgs[0])
    samples = len(np.load(DIGITS)["x"])
    note = f"calibration: mnist_digits.npz, {samples} samples; SQNR over the first 32"
    assert header_notes(root) == [note]
    assert f'<div class="header-note">{note}</div></header>' in text
    scheme = sqnr_scheme()
    scored = {n: e for n, e in nodes_of(boxes).items() if e.get("data-number")}
    layers = {n for n, e in nodes_of(boxes).items() if e.get("data-op") in ("conv", "gemm")}
    assert set(scored) == layers and len(layers) == 6
    for el in scored.values():
        sqnr = float(el.get("data-number", "nan"))
        assert 10 < sqnr < 200 and el.get("data-category") == scheme.labels[scheme.bin(sqnr)]
        assert note_of(el) == f"{sqnr:.1f} dB"
    root, boxes, _ = check_svg(viz(tmp_path, "--overlay", "sensitivity", "--eval-samples", "8"))
    assert "sensitivity overlay ran on random inputs (seed 0)" in capsys.readouterr().err
    (note,) = header_notes(root)
    assert note.startswith("calibration: random inputs (seed 0, 32 samples)") and "--calib" in note


def header_notes(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text") if t.get("class") == "header-note"]


def note_of(el: ET.Element) -> str:
    """The overlay value drawn inside a node box (its third text line)."""
    notes = [t.text or "" for t in el.iter(f"{NS}text") if t.get("class") == "note"]
    assert len(notes) == 1, el.get("data-name")
    return notes[0]


def _check_groups(nodes: dict[str, ET.Element]) -> dict[int, list[ET.Element]]:
    """Engine layers numbered 1..K; each label names its boxes' ops and counts them."""
    groups: dict[int, list[ET.Element]] = {}
    for el in nodes.values():
        label = el.get("data-category", "")
        if label != "n/a":
            m = re.fullmatch(r"engine layer (\d+): (.*) \((\d+) nodes?\)", label)
            assert m is not None, label
            groups.setdefault(int(m[1]), []).append(el)
            assert note_of(el) == f"engine layer {m[1]}"
    assert sorted(groups) == list(range(1, len(groups) + 1))
    for members in groups.values():
        label = members[0].get("data-category", "")
        ops = {e.get("data-op") for e in members}
        named = re.sub(r" \+ \d+ more", "", label.split(": ", 1)[1].rsplit(" (", 1)[0])
        assert set(named.split(" + ")) <= ops and label.endswith(
            f"({len(members)} node{'s' * (len(members) > 1)})"
        )
    return groups


def test_trt_group_overlay_from_a_real_build(tmp_path: Path) -> None:
    from backends.tensorrt import _trt

    if not _trt.available():
        pytest.skip("trt-group needs tensorrt or tensorrt_rtx (pip install irforge[tensorrt])")
    root, boxes, legend = check_svg(viz(tmp_path, "--overlay", "trt-group", "--opt-level", "0"))
    groups = _check_groups(nodes_of(boxes))
    assert len(groups) == 7 and all(len(m) == 1 for m in groups.values())
    assert [m[0].get("data-op") for m in groups.values()][:5] == ["conv"] * 5
    (summary,) = header_notes(root)
    assert "7 IR ops → 7 engine layers — no cross-node fusion" in summary
    # unoptimized: TensorRT fuses conv + batch_normalization + relu itself
    root, boxes, legend = check_svg(viz(tmp_path, "--overlay", "trt-group", "--pipeline", "O0",
                                        "--opt-level", "0", "--force"))  # fmt: skip
    groups = _check_groups(nodes_of(boxes))
    fused = [m for m in groups.values() if {"conv", "batch_normalization", "relu"} <=
             {e.get("data-op") for e in m}]  # fmt: skip
    assert len(fused) >= 4 and len(groups) < len(nodes_of(boxes))
    (summary,) = header_notes(root)
    mapped = sum(len(m) for m in groups.values())
    assert f"{mapped} IR ops → {len(groups)} engine layers" in summary
    assert "no cross-node fusion" not in summary
    root, boxes, legend = check_svg(viz(tmp_path, "--overlay", "trt-group", "--before-after",
                                        "--opt-level", "0", "--force"))  # fmt: skip
    before, after = header_notes(root)
    assert before.startswith("before: ") and after.startswith("after: ")
    assert before.endswith(summary.split(": ", 1)[1]) and "no cross-node fusion" in after
    assert "after: engine layer 1: conv (1 node)" in legend


def _lab(color: str) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB `#rrggbb`."""
    lin = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in lin)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@pytest.mark.parametrize("scheme", [error_scheme(), sqnr_scheme()], ids=["error", "sqnr"])
def test_scale_bins_are_distinct_and_ordered_in_lightness(scheme: Any) -> None:
    labs = [_lab(c) for c in scheme.colors]
    for a, b in zip(labs, labs[1:], strict=False):
        assert math.dist(a, b) >= 18  # CIE76 ΔE: clearly different swatches
        assert abs(a[0] - b[0]) >= 7  # and a lightness step, so colour-blind readers see it
    lightness = [lab[0] for lab in labs]  # one direction: a sequential scale, dark = bad
    assert lightness == sorted(lightness, reverse=scheme.worse_high)
    assert min(math.dist(lab, _lab("#e8e8e8")) for lab in labs) >= 15  # apart from n/a grey


def test_png_has_each_node_colour_at_the_node(tmp_path: Path) -> None:
    resvg = pytest.importorskip("resvg_py", reason="rasterizing needs resvg-py (irforge[viz])")
    from PIL import Image

    text = viz(tmp_path, "--overlay", "op", "--pipeline", "default", "--before-after")
    _, boxes, _ = check_svg(text)
    png = tmp_path / "g.png"
    png.write_bytes(bytes(resvg.svg_to_bytes(svg_string=text)))
    image = Image.open(png).convert("RGB")
    assert image.getpixel((image.width - 2, image.height - 2)) == (255, 255, 255)
    nodes = [b for b in boxes if b["el"].get("class") == "node"]
    for b in nodes:
        pixel: Any = image.getpixel((round(b["x"] + 3), round(b["y"] + b["h"] / 2)))
        want = tuple(int(b["fill"][i : i + 2], 16) for i in (1, 3, 5))
        assert max(abs(p - w) for p, w in zip(pixel, want, strict=True)) <= 6, b["el"].get("id")


def _members(boxes: list[dict[str, Any]]) -> int:
    return sum(int(b["el"].get("data-members", 0)) for b in boxes if b["el"].get("class") == "node")


@pytest.mark.parametrize(
    ("name", "nodes", "label"),
    [("resnet200_noisy", 1612, "×99 block above (16 ops)"),
     ("transformer64", 3338, "×62 block above (52 ops)")],
)  # fmt: skip
def test_large_model_folds_repeated_blocks_to_one_page(
    name: str, nodes: int, label: str, tmp_path: Path, material: Any
) -> None:
    start = time.perf_counter()
    text = viz(tmp_path, name="r.html", model=material(name))
    seconds = time.perf_counter() - start
    parser, svgs = check_html(text)
    assert seconds < 15 and len(text) < 200_000 and parser.pages == 1, (seconds, len(text))
    _, boxes, _ = check_svg(svgs[0])
    assert 20 < len(boxes) <= 150 and _members(boxes) == nodes  # each node in exactly one box
    assert label in [b["el"].get("data-op") for b in boxes]


def test_large_model_pages_with_stubs(tmp_path: Path, material: Any) -> None:
    text = viz(tmp_path, "--collapse", "chains", "--max-nodes", "60", name="r.html",
               model=material("resnet200_noisy"))  # fmt: skip
    parser, svgs = check_html(text)
    assert parser.pages == len(svgs) > 1
    folded = 0
    for k, svg in enumerate(svgs):
        _, boxes, _ = check_svg(svg)
        kinds = [b["el"].get("class") for b in boxes]
        assert kinds.count("node") + kinds.count("io") <= 60
        targets = {int(b["el"].get("data-target")) for b in boxes if b["el"].get("class") == "stub"}
        assert targets and all(0 <= t < len(svgs) and t != k for t in targets)
        folded += _members(boxes)
    assert folded == 1612  # every non-constant node is in exactly one box


def test_mlp_chain_folds_to_one_box_and_pages_unfolded(tmp_path: Path, material: Any) -> None:
    model = material("mlp2000")
    _, boxes, _ = check_svg(viz(tmp_path, "--collapse", "chains", model=model))
    nodes = [b["el"] for b in boxes if b["el"].get("class") == "node"]
    assert len(nodes) == 1 and nodes[0].get("data-op") == "(matmul → add → tanh) ×2000 → identity"
    assert nodes[0].get("data-members") == "6001"
    start = time.perf_counter()
    text = viz(tmp_path, "--collapse", "none", "--max-nodes", "500", name="m.html", model=model)
    parser, svgs = check_html(text)
    assert time.perf_counter() - start < 15 and parser.pages == 13


def test_repeated_residual_blocks_fold_after_the_first() -> None:
    from compiler.viz.blocks import cut_positions, fold_blocks

    diagram = Diagram()
    diagram.add(Box("in", "input", "x", "input"))
    last = "in"
    for i in range(5):  # relu -> conv -> add(relu, conv): the add is each block's cut
        for op in ("relu", "conv", "add"):
            diagram.add(Box(f"{op}{i}", op, f"{op}{i}", "node", [f"{op}{i}"], [op]))
        diagram.edges += [(last, f"relu{i}"), (f"relu{i}", f"conv{i}"), (f"conv{i}", f"add{i}"),
                          (f"relu{i}", f"add{i}")]  # fmt: skip
        last = f"add{i}"
    diagram.add(Box("out", "output", "y", "output"))
    diagram.edges.append((last, "out"))
    keys = list(diagram.boxes)
    assert [keys[c] for c in cut_positions(diagram)] == [
        k for i in range(5) for k in (f"relu{i}", f"add{i}")
    ] + ["out"]
    folded = fold_blocks(diagram)
    drawn = [b.key for b in folded.boxes.values()]
    # segments: [in, relu0] [conv0, add0] [relu1] ... [conv4, add4] [out]; the unit
    # ([conv, add], [relu]) repeats 4 times from conv0: the first stays, 3 fold into one box
    assert drawn == ["in", "relu0", "conv0", "add0", "relu1", "conv1", "conv4", "add4", "out"]
    box = folded.boxes["conv1"]
    assert box.label == "×3 block above (3 ops)" and len(box.members) == 9
    assert set(folded.edges) == {
        ("in", "relu0"), ("relu0", "conv0"), ("conv0", "add0"), ("relu0", "add0"),
        ("add0", "relu1"), ("relu1", "conv1"), ("conv1", "conv4"), ("conv1", "add4"),
        ("conv4", "add4"), ("add4", "out"),
    }  # fmt: skip


def test_layout_of_random_dags_respects_ranks_and_gaps() -> None:
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(2, 60))
        diagram = Diagram()
        for i in range(n):
            diagram.add(Box(f"b{i}", "op" * int(rng.integers(1, 9)), f"v{i}", "node"))
        edges = {(f"b{i}", f"b{j}") for j in range(1, n) for i in rng.integers(0, j, size=2)}
        diagram.edges = sorted(edges)
        lay = layout(diagram)
        for src, dst, points in lay.paths:
            assert lay.rects[src].y < lay.rects[dst].y and len(points) >= 2
        for keys in lay.ranks:
            xs = sorted((lay.rects[k].left, lay.rects[k].right) for k in keys)
            assert all(a[1] < b[0] for a, b in zip(xs, xs[1:], strict=False)), trial


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--overlay", "bogus"], "unknown overlay 'bogus'"),
        (["--pipeline", "no-such-pass"], "no-such-pass"),
        (["--max-nodes", "1"], "--max-nodes"),
        (["--calib", "missing.npz", "--overlay", "sensitivity"], "no such file"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "g.svg"
    assert main(["viz", str(MNIST), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]  # `irforge: error: ...` or `irforge: FILE:L:C: error: ...`
    assert first.startswith("irforge: ") and "error: " in first and message in first
    assert "Traceback" not in err and not out.exists()


def test_missing_model_bad_suffix_and_existing_output(tmp_path: Path, capsys: Any) -> None:
    assert main(["viz", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "g.svg")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["viz", str(MNIST), "-o", str(tmp_path / "g.png")]) == 2
    assert ".svg or .html" in capsys.readouterr().err
    out = tmp_path / "g.svg"
    out.write_text("keep")
    assert main(["viz", str(MNIST), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep"
    assert main(["viz", str(MNIST), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("<svg") and not list(tmp_path.glob(".*.tmp"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["viz", str(bad), "-o", str(tmp_path / "b.html")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


FAKE_DOM = """
const script = require('fs').readFileSync(0, 'utf8');
function cls(names) {
  const s = new Set(names);
  return {toggle(c, on) { on ? s.add(c) : s.delete(c); }, contains(c) { return s.has(c); },
    add(c) { s.add(c); }, remove(c) { s.delete(c); }};
}
function target() { return {on: {}, addEventListener(t, f) { this.on[t] = f; }}; }
const pages = [0, 1, 2].map((k) => ({classList: cls(['page']), dataset: {page: String(k)}}));
const nodes = [['conv', 'conv', 0], ['relu_3', 'relu', 2], ['relu_31', 'relu', 2]].map(
  ([name, op, k]) => ({dataset: {name, op}, classList: cls([]), closest: () => pages[k]}));
const svg = Object.assign(target(), {box: '0 0 400 200', getAttribute() { return this.box; },
  setAttribute(_, v) { this.box = v; },
  getBoundingClientRect() { return {left: 0, top: 0, width: 400, height: 200}; }});
const stub = Object.assign(target(), {dataset: {target: '2'}});
const buttons = {'.prev': {}, '.next': {}, 'select': {value: 0}};
const parts = {'.page': pages, 'svg': [svg], '.stub': [stub], '.node,.io': nodes};
const panel = {dataset: {}, querySelector: (q) => buttons[q], querySelectorAll: (q) => parts[q]};
const find = target();
const hit = () => nodes.filter((n) => n.classList.contains('hit'));
global.window = target();
global.document = {getElementById: () => find,
  querySelectorAll: (q) => q === '.hit' ? hit() : [panel]};
eval(script);
const active = () => pages.findIndex((p) => p.classList.contains('active'));
const seen = [active()];
buttons['.next'].onclick(); seen.push(active());
stub.on.click(); seen.push(active());
buttons['.next'].onclick(); seen.push(active());
buttons['select'].onchange({target: {value: '1'}}); seen.push(active());
svg.on.wheel({deltaY: -1, clientX: 200, clientY: 100, preventDefault() {}});
find.on.change({target: {value: '%relu_3'}}); seen.push(active());
find.on.change({target: {value: 'conv'}}); seen.push(active());
console.log(JSON.stringify({seen, box: svg.box, hits: hit().map((n) => n.dataset.name)}));
"""


def test_html_script_pages_and_zoom_in_node(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("checking the page script needs node")
    text = viz(tmp_path, "--collapse", "none", "--max-nodes", "15", name="g.html")
    parser, _ = check_html(text)
    assert parser.pages == 3
    script = re.findall(r"<script>(.*?)</script>", text, flags=re.S)[0]
    run = subprocess.run([node, "-e", FAKE_DOM], input=script, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["seen"] == [0, 1, 2, 2, 1, 2, 0] and result["hits"] == ["conv"]
    assert [float(v) for v in result["box"].split()] == pytest.approx([40, 20, 320, 160])
