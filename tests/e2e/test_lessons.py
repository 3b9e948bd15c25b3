"""nnintro lessons as a teacher uses them: the notebooks are written in every language with the same code, each
teacher notebook runs top to bottom in a real Jupyter kernel (nbclient) offline with every check passing, and
in the student version every check fails until the TODO is written."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nnintro.cli import app

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

runner = CliRunner()


def _write(folder: str, *options: str) -> list[Path]:
    result = runner.invoke(app, ["lessons", "--out", folder, *options])
    assert result.exit_code == 0, result.output
    return sorted(Path(folder).glob("*.ipynb"))


def _execute(path: Path, allow_errors: bool, through_last_check: bool = False) -> list:
    """Run a notebook in a real kernel, its lesson shortened (EPOCHS = 1) the way papermill injects parameters;
    through_last_check: only as far as its last check cell (what follows it is the teacher run's to test)."""
    book = nbformat.read(path, as_version=4)
    if through_last_check:
        last = max(i for i, cell in enumerate(book.cells) if "check" in cell.metadata.get("tags", []))
        book.cells = book.cells[:last + 1]
    for index, cell in enumerate(book.cells):
        if "parameters" in cell.metadata.get("tags", []):
            book.cells.insert(index + 1, nbformat.v4.new_code_cell("EPOCHS = 1"))
            break
    nbclient.NotebookClient(book, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return book.cells


def _checks(cells: list) -> list[str]:
    """What every check cell said: its printed lines, or the error it raised."""
    said = []
    for cell in cells:
        if "check" in cell.metadata.get("tags", []):
            said.append(" ".join(output.get("text", "") or f"{output.get('ename')}: {output.get('evalue')}"
                                 for output in cell.outputs))
    return said


def test_every_language_has_the_same_code_and_the_student_version_only_its_exercises():
    books = {lang: [nbformat.read(p, as_version=4) for p in _write(f"course-{lang}", "--lang", lang)]
             for lang in ("en", "pl", "ru")}
    student = [nbformat.read(p, as_version=4) for p in _write("course-student", "--lang", "pl", "--student")]
    assert [p.name for p in sorted(Path("course-en").glob("*.ipynb"))][:2] == ["01_neuron.ipynb", "02_backprop.ipynb"]
    for english, polish, russian, exercise in zip(books["en"], books["pl"], books["ru"], student):
        code = [[c.source for c in book.cells if c.cell_type == "code"] for book in (english, polish, russian)]
        assert code[0] == code[1] == code[2]
        prose = [[c.source for c in book.cells if c.cell_type == "markdown"] for book in (english, polish, russian)]
        assert all(a != b != c for a, b, c in zip(*prose))  # every paragraph written in each language
        for teacher_cell, student_cell in zip(polish.cells, exercise.cells):
            same = teacher_cell.source == student_cell.source
            assert same == ("exercise" not in teacher_cell.metadata.get("tags", [])), teacher_cell.source
    again = runner.invoke(app, ["lessons", "--out", "course-en"])
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    """What every check said in the teacher's notebooks (Polish) and the student's (Russian, as far as their last
    check), each notebook in its own kernel, three at a time and the longest lessons first: starting a kernel and
    importing is much of a lesson, and one pool for both versions leaves no core idle at the end of each."""
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("lessons")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("NNINTRO_CACHE_DIR", str(folder / "cache"))
        jobs = [("teacher", path, False) for path in _write("teacher", "--lang", "pl")]
        jobs += [("student", path, True) for path in _write("student", "--lang", "ru", "--student")]
        jobs.sort(key=lambda job: job[1].name >= "05", reverse=True)  # the lessons that train go first
        with ThreadPoolExecutor(max_workers=3) as pool:
            said = pool.map(lambda job: _checks(_execute(folder / job[1], allow_errors=job[2], through_last_check=job[2])),
                            jobs)
            results: dict[str, dict[str, list[str]]] = {"teacher": {}, "student": {}}
            for (version, path, _), checks in zip(jobs, said):
                results[version][path.name] = checks
    return results


def test_the_teachers_notebooks_run_in_a_kernel_with_every_check_passing(executed):
    assert len(executed["teacher"]) == 9
    for name, said in executed["teacher"].items():
        assert said and all(line.startswith("✓") for line in said), (name, said)


def test_the_students_checks_fail_on_the_todos(executed):
    assert len(executed["student"]) == 9
    for name, said in executed["student"].items():
        assert said and all("✗" in line and "not written yet" in line for line in said), (name, said)
