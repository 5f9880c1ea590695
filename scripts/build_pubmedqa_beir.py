"""Build the BEIR-format PubMedQA retrieval set shipped in `data/eval/pubmedqa/`.

Corpus: the 1,000 expert-labelled abstracts of PQA-L (each abstract's CONTEXTS joined by a blank line).
Queries: the 500 questions of the test split (`test_ground_truth.json`). Each question's only relevant
document is its own abstract. Query ids carry a `q` prefix: BEIR's evaluator drops results whose id
equals the query id, which would otherwise erase every correct answer.

Usage: .venv/bin/python scripts/build_pubmedqa_beir.py [--source /work/shared/data/pubmedqa] [--out data/eval/pubmedqa]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/work/shared/data/pubmedqa")
DEFAULT_OUT = ROOT / "data" / "eval" / "pubmedqa"

README = """# PubMedQA as a BEIR retrieval set

Built by `scripts/build_pubmedqa_beir.py` from PubMedQA's expert-labelled set PQA-L (`ori_pqal.json`,
1,000 questions, each with the abstract it was written from) and its test split (`test_ground_truth.json`).

- `corpus.jsonl`: the 1,000 abstracts (`_id` = PMID, `title` empty: PQA-L has none, `text` = the abstract's
  CONTEXTS joined by a blank line).
- `queries.jsonl`: the 500 test-split questions (`_id` = `q` + PMID).
- `qrels/test.tsv`: each question's only relevant document is its own abstract (score 1).

Source: PubMedQA, Jin et al., EMNLP 2019, https://github.com/pubmedqa/pubmedqa (MIT, see `LICENSE`).
"""


def build(source: Path, out: Path) -> tuple[int, int]:
    """Write corpus, queries, qrels, LICENSE and README; return (documents, queries)."""
    labelled = json.loads((source / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = list(json.loads((source / "test_ground_truth.json").read_text(encoding="utf-8")))
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for pmid, entry in labelled.items():
            text = "\n\n".join(part.strip() for part in entry["CONTEXTS"])
            corpus.write(json.dumps({"_id": pmid, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as queries:
        for pmid in test_ids:
            question = labelled[pmid]["QUESTION"].strip()
            queries.write(json.dumps({"_id": f"q{pmid}", "text": question}, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        qrels.writelines(f"q{pmid}\t{pmid}\t1\n" for pmid in test_ids)
    shutil.copyfile(source / "LICENSE", out / "LICENSE")
    (out / "README.md").write_text(README, encoding="utf-8")
    return len(labelled), len(test_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder with ori_pqal.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="BEIR folder to write")
    args = parser.parse_args()
    documents, queries = build(args.source, args.out)
    print(f"{documents} documents, {queries} queries -> {args.out}")


if __name__ == "__main__":
    main()
