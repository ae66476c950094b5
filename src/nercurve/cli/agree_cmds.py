"""Commands ``agree`` (inter-annotator agreement) and ``adjudicate`` (merge two annotations).

The library (agreement, adjudication, the HTML report) is imported inside the commands
so ``nercurve --help`` stays fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusReading, reads_corpus
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.agreement.scores import AgreementReport, PairScores

AllowMissingOpt = Annotated[
    bool,
    typer.Option(
        "--allow-missing",
        help="Compare only the documents every annotation has, instead of failing.",
    ),
]


class Prefer(StrEnum):
    """Which annotator wins a disagreement under --prefer."""

    A = "A"
    B = "B"


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _check_outputs(inputs: list[Path], outputs: list[Path | None]) -> None:
    """Refuse to write over an input file, or two outputs to the same file."""
    seen: set[Path] = {p.resolve() for p in inputs}
    for out in outputs:
        if out is None:
            continue
        if out.resolve() in seen:
            raise InputError(
                "this output would overwrite an input file or another output",
                file=out,
                hint="write each output to a file of its own",
            )
        seen.add(out.resolve())


def _protect_decisions(path: Path | None) -> None:
    """Refuse to overwrite a disagreement file a third rater has started filling in."""
    from nercurve.agreement.disagreements import has_decisions

    if path is not None and has_decisions(path):
        raise InputError(
            "this file holds a third rater's decisions and would be overwritten",
            file=path,
            hint="apply it with nercurve adjudicate ... --decisions FILE, or write the "
            "disagreement list to another file",
        )


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _table(title: str, columns: tuple[str, ...], rows: list[list[str]], left: int = 2) -> Any:
    """A rich table whose first ``left`` columns are text and the rest numbers."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _show(report: AgreementReport) -> None:
    from rich.console import Console

    from nercurve.agreement.icc import ICC_FORM_DESCRIPTION

    console = Console()
    console.print(_table(
        "Annotators",
        ("name", "file", "entities", "per document"),
        [[n, src, str(report.entities[n]), f"{report.icc.mean_count[n]:.2f}"]
         for n, src in zip(report.annotators, report.sources, strict=True)],
    ))
    console.print(f"{report.n_docs} documents compared"
                  + ("; left out (not in every annotation): " + ", ".join(
                      f"{name}: {n}" for name, n in report.left_out.items())
                     if report.left_out else ""))
    scoped: list[tuple[str, str, PairScores]] = []
    for pair in report.pairs:
        scoped.append((f"{pair.a}-{pair.b}", "all", pair.overall))
        scoped += [(f"{pair.a}-{pair.b}", label, s) for label, s in pair.per_label.items()]
    console.print(_table(
        "Entity F1 between annotators",
        ("pair", "label", "n first", "n second", "exact", "boundaries", "overlap"),
        [[p, lab, str(s.n_a), str(s.n_b), _num(s.f1_exact), _num(s.f1_boundary),
          _num(s.f1_overlap)] for p, lab, s in scoped],
    ))
    console.print(_table(
        "Boundary and type agreement",
        ("pair", "label", "boundary", "token κ", "matched", "type", "type κ"),
        [[p, lab, _num(s.boundary_agreement), _num(s.token_kappa), str(s.type_units),
          _num(s.type_agreement), _num(s.type_kappa)] for p, lab, s in scoped],
    ))
    if report.multi is not None:
        console.print(_table(
            "All annotators together",
            ("label", "all marked", "type Fleiss κ", "2+ marked", "type Kripp. α",
             "token Fleiss κ"),
            [[label, str(m.type_units_all), _num(m.fleiss_kappa), str(m.type_units_any2),
              _num(m.krippendorff_alpha), _num(m.token_fleiss_kappa)]
             for label, m in [("all", report.multi), *report.multi_per_label.items()]],
            left=1,
        ))
    console.print(_table(
        "Entities per document: ICC",
        ("label", "ICC", "95% CI"),
        [[label, _num(r.icc),
          "n/a" if r.ci_low is None or r.ci_high is None
          else f"{r.ci_low:.3f} to {r.ci_high:.3f}"]
         for label, r in [("all", report.icc), *report.icc_per_label.items()]],
        left=1,
    ))
    console.print(f"ICC form: {ICC_FORM_DESCRIPTION}.")
    kinds = report.to_dict()["disagreement_kinds"]
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    console.print(f"{len(report.disagreements)} disagreements" + (f" ({detail})" if detail else ""))


@app.command("agree")
@reads_corpus
def agree(
    annotations: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more annotations of the same documents, named A, B, C, ... in this "
            "order (documents matched by id); an export holding several annotators (Label "
            "Studio, INCEpTION) gives one annotation per annotator.",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write a self-contained HTML report here."),
    ] = None,
    disagreements: Annotated[
        Path | None,
        typer.Option("--disagreements", help="Write the disagreement list (CSV) here, "
                     "for a reconciling rater."),
    ] = None,
    allow_missing: AllowMissingOpt = False,
    *,
    reading: CorpusReading,
) -> None:
    """Inter-annotator agreement: entity F1, boundary and type agreement, κ, α, ICC.

    Overall and per label: pairwise entity F1 (exact, boundaries only, overlap only).

    Boundary agreement, and Cohen's κ on token-level B/I/O tags.

    Type agreement and Cohen's κ on the entities whose boundaries match.

    Fleiss' κ and Krippendorff's α for three or more annotators.

    ICC(A,1) of the entities per document, with its 95% CI.

    Example: nercurve agree a.jsonl b.jsonl --report agreement.html --disagreements dis.csv

    Example: nercurve agree label_studio_export.json
    """
    from nercurve.agreement.disagreements import write_disagreements, write_text_atomic
    from nercurve.agreement.html import render_html
    from nercurve.agreement.scores import compute_agreement

    _check_outputs(annotations, [report, disagreements])
    _protect_decisions(disagreements)
    corpora = [c for p in annotations for c in reading.load_annotations(p)]
    if len(corpora) < 2:
        raise InputError(
            f"agreement needs at least two annotations, got {len(corpora)}",
            hint="example: nercurve agree ann_a.jsonl ann_b.jsonl, or one export that holds "
            "several annotators (Label Studio, INCEpTION)",
        )
    result = compute_agreement(corpora, allow_missing=allow_missing)
    if report is not None:
        write_text_atomic(report, render_html(result))
        _echo_err(f"wrote {report}")
    if disagreements is not None:
        texts = {d.id: d.text for d in corpora[0]}
        write_disagreements(result.disagreements, result.annotators, texts, disagreements)
        _echo_err(f"wrote {len(result.disagreements)} disagreements to {disagreements}")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _show(result)


@app.command("adjudicate")
@reads_corpus
def adjudicate_cmd(
    ann_a: Annotated[Path, typer.Argument(help="Annotation A.", show_default=False)],
    ann_b: Annotated[Path, typer.Argument(help="Annotation B.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Gold corpus to write; its suffix names the "
                     "format (.jsonl, .conll, .spacy, .pubtator).", show_default=False),
    ],
    prefer: Annotated[
        Prefer | None,
        typer.Option("--prefer", case_sensitive=False,
                     help="Resolve disagreements with this annotator's spans."),
    ] = None,
    union: Annotated[
        bool,
        typer.Option("--union", help="Keep every span either marked (the longer one where "
                     "two overlap, A's on a tie)."),
    ] = False,
    intersection: Annotated[
        bool, typer.Option("--intersection", help="Keep only the spans both marked.")
    ] = False,
    disagreements_out: Annotated[
        Path | None,
        typer.Option("--disagreements-out", help="Write the disagreements (CSV) here for a "
                     "third rater, who fills in its decision column."),
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option("--decisions", help="A third rater's filled-in disagreement CSV to "
                     "apply (decision: A, B, both, neither or custom)."),
    ] = None,
    allow_missing: AllowMissingOpt = False,
    *,
    reading: CorpusReading,
) -> None:
    """Merge two annotations into a gold standard: agreed entities are kept.

    Disagreements follow --prefer A|B, --union or --intersection, or go to a third rater.

    With --disagreements-out FILE.csv and no rule, the list is written and no gold yet.

    The rater fills in its decision column (A, B, both, neither, custom); --decisions applies it.

    A custom decision lists the spans to keep in the custom column: START-END LABEL; ...

    Example: nercurve adjudicate a.jsonl b.jsonl --disagreements-out todo.csv -o gold.jsonl

    Example: nercurve adjudicate a.jsonl b.jsonl --decisions todo.csv -o gold.jsonl
    """
    from nercurve.agreement.adjudicate import adjudicate, read_decisions
    from nercurve.agreement.disagreements import write_disagreements
    from nercurve.corpus.io import format_for_output, write_corpus

    rules = [r for r, on in (("A" if prefer == Prefer.A else "B", prefer is not None),
                             ("union", union), ("intersection", intersection)) if on]
    if len(rules) > 1:
        raise InputError(
            f"choose one rule, not {' and '.join(rules)}",
            hint="pass one of --prefer A, --prefer B, --union, --intersection",
        )
    rule = rules[0] if rules else None
    format_for_output(output)  # an unknown suffix fails before any work
    _check_outputs([ann_a, ann_b, *([decisions] if decisions else [])],
                   [output, disagreements_out])
    _protect_decisions(disagreements_out)
    a, b = reading.load(ann_a), reading.load(ann_b)
    chosen = None
    if decisions is not None:
        chosen = read_decisions(decisions, a, b, allow_missing=allow_missing)
    result = adjudicate(a, b, rule=rule, decisions=chosen, decisions_file=decisions,
                        allow_missing=allow_missing)
    if disagreements_out is not None:
        texts = {d.id: d.text for d in a}
        write_disagreements(result.disagreements, ["A", "B"], texts, disagreements_out)
        _echo_err(f"wrote {len(result.disagreements)} disagreements to {disagreements_out}")
    if result.unresolved:
        items = ", ".join(str(d.item) for d in result.unresolved[:8])
        more = ", ..." if len(result.unresolved) > 8 else ""
        if decisions is not None:
            raise InputError(
                f"{len(result.unresolved)} disagreement(s) have no decision "
                f"(items {items}{more})",
                file=decisions,
                hint="fill in their decision column, or add --prefer A|B, --union or "
                "--intersection to resolve the rest by a rule",
            )
        if disagreements_out is None:
            raise InputError(
                f"{len(result.unresolved)} disagreement(s) and no way to resolve them",
                hint="pass --prefer A, --prefer B, --union or --intersection, or "
                "--disagreements-out FILE.csv to have a third rater decide",
            )
        _echo_err(
            f"no gold written: {len(result.unresolved)} disagreement(s) await a third rater. "
            f"Fill in the decision column of {disagreements_out}, then run: nercurve "
            f"adjudicate {ann_a} {ann_b} --decisions {disagreements_out} -o {output}"
        )
        return
    write_corpus(result.corpus, output)
    entities = sum(len(d.spans) for d in result.corpus)
    typer.echo(
        f"wrote {output}: {len(result.corpus)} documents, {entities} entities "
        f"({result.agreed} agreed; {len(result.disagreements)} disagreements: "
        f"{result.by_rule} by rule, {result.by_decision} by decision)"
    )
