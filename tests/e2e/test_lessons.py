"""nnintro lessons as a teacher uses them: the notebooks are written in every language with the same code, each
teacher notebook runs top to bottom in a real Jupyter kernel (nbclient) offline with every check passing, and
in the student version every check fails until the TODO is written."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import start_cache
from typer.testing import CliRunner

from nnintro.cli import app

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

runner = CliRunner()


def _write(folder: str, *options: str) -> list[Path]:
    result = runner.invoke(app, ["lessons", "--out", folder, *options])
    assert result.exit_code == 0, result.output
    return sorted(Path(folder).glob("*.ipynb"))


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _lesson(teacher: Path, student: Path) -> tuple[list, list]:
    """Run the teacher's notebook top to bottom in a real kernel, its lesson shortened (EPOCHS = 1) the way
    papermill injects parameters, then, in the same kernel, the student's version from its first exercise to its
    last check, errors allowed there only. The student's other cells are the teacher's (the test above says so)
    and have just run, so this is the student's notebook as far as its last check without training its models
    a second time. Returns the teacher's cells and the student's."""
    book = nbformat.read(teacher, as_version=4)
    for index, cell in enumerate(book.cells):
        if "parameters" in _tags(cell):
            book.cells.insert(index + 1, nbformat.v4.new_code_cell("EPOCHS = 1"))
            break
    exercise = nbformat.read(student, as_version=4).cells
    first = min(i for i, cell in enumerate(exercise) if "exercise" in _tags(cell))
    last = max(i for i, cell in enumerate(exercise) if "check" in _tags(cell))
    taught = len(book.cells)
    for cell in exercise[first:last + 1]:
        cell.metadata["tags"] = [*_tags(cell), "raises-exception"]
        book.cells.append(cell)
    nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(teacher.parent)}}).execute()
    return book.cells[:taught], book.cells[taught:]


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
def executed(tmp_path_factory: pytest.TempPathFactory, _digits_cache: Path) -> dict[str, dict[str, list[str]]]:
    """What every check said in the teacher's notebooks (Polish) and the student's (Russian), a kernel per
    lesson, two at a time and the lessons that train first, so that no core is idle at the end."""
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("lessons")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("NNINTRO_CACHE_DIR", str(folder / "cache"))
        start_cache(folder / "cache", _digits_cache)  # the kernels need no scikit-learn for it
        lessons = list(zip(_write("teacher", "--lang", "pl"), _write("student", "--lang", "ru", "--student")))
        lessons.sort(key=lambda pair: pair[0].name >= "05", reverse=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            ran = list(pool.map(lambda pair: _lesson(folder / pair[0], folder / pair[1]), lessons))
    return {version: {teacher.name: _checks(cells[side]) for (teacher, _), cells in zip(lessons, ran)}
            for side, version in enumerate(("teacher", "student"))}


def test_the_teachers_notebooks_run_in_a_kernel_with_every_check_passing(executed):
    assert len(executed["teacher"]) == 9
    for name, said in executed["teacher"].items():
        assert said and all(line.startswith("✓") for line in said), (name, said)


def test_the_students_checks_fail_on_the_todos(executed):
    assert len(executed["student"]) == 9
    for name, said in executed["student"].items():
        assert said and all("✗" in line and "not written yet" in line for line in said), (name, said)
