"""benchmarks.report keeps the hand-appended part of docs/benchmarks.md when it rewrites it."""

from benchmarks import report


def test_kept_part_is_everything_from_the_marker(tmp_path):
    path = tmp_path / "benchmarks.md"
    assert report.kept_part(path) == ""  # no file yet
    path.write_text("# generated\n", encoding="utf-8")
    assert report.kept_part(path) == ""  # no marker
    path.write_text(f"# generated\n{report.KEEP_MARKER}\n## Yardstick\n| a |\n", encoding="utf-8")
    assert report.kept_part(path) == f"\n{report.KEEP_MARKER}\n## Yardstick\n| a |\n"
