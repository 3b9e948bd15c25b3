"""`nnintro lessons`: the course as Jupyter notebooks, one per lesson, in the course's order and language.

A lesson is a YAML file in nnintro/lessons/: its title and cells in English, Polish and Russian. Code is the
same in every language. A cell is prose (`markdown`, per language), code (`code`), the lesson's settings
(`parameters`, tagged as papermill does, so a runner can shorten a lesson), or an exercise: the task (per
language), the teacher's solution, what a student starts from (`todo`) and a check cell that says whether the
function is right, like an autograder. `--student` writes the todo where the teacher's version has the solution.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnintro.errors import ConfigError, InputError
from nnintro.files import output_folder, write_atomic

LANGUAGES = ("en", "pl", "ru")
LESSONS = Path(__file__).resolve().parent.parent / "lessons"


@dataclass
class Lesson:
    name: str  # the file's stem: NN_topic
    title: dict[str, str]
    cells: list[dict[str, Any]]


def lessons() -> list[Lesson]:
    """Every lesson, in the course's order (their file names start with the order)."""
    import yaml

    found = []
    for path in sorted(LESSONS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.append(Lesson(path.stem, document["title"], document["cells"]))
    return found


def notebook(lesson: Lesson, language: str, student: bool) -> Any:
    """One lesson as an nbformat notebook."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell(f"# {lesson.title[language]}")]
    for cell in lesson.cells:
        if "markdown" in cell:
            cells.append(nbformat.v4.new_markdown_cell(cell["markdown"][language].strip()))
        elif "code" in cell:
            cells.append(nbformat.v4.new_code_cell(cell["code"].strip()))
        elif "parameters" in cell:
            cells.append(nbformat.v4.new_code_cell(cell["parameters"].strip(), metadata={"tags": ["parameters"]}))
        else:
            exercise = cell["exercise"]
            cells.append(nbformat.v4.new_markdown_cell(f"**{EXERCISE[language]}.** {exercise['task'][language].strip()}"))
            code = exercise["todo"] if student else exercise["solution"]
            cells.append(nbformat.v4.new_code_cell(code.strip(), metadata={"tags": ["exercise"]}))
            cells.append(nbformat.v4.new_code_cell(exercise["check"].strip(), metadata={"tags": ["check"]}))
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                          "language_info": {"name": "python"}})
    return book


EXERCISE = {"en": "Exercise", "pl": "Ćwiczenie", "ru": "Упражнение"}


def write_lessons(out: Path, language: str = "en", student: bool = False, force: bool = False) -> list[Path]:
    """Every lesson as OUT/NN_topic.ipynb; existing notebooks are refused (nothing written) unless force."""
    import nbformat

    if language not in LANGUAGES:
        raise ConfigError(f"--lang {language!r}: must be one of {', '.join(LANGUAGES)}")
    output_folder(out, "--out")
    chosen = lessons()
    paths = [out / f"{lesson.name}.ipynb" for lesson in chosen]
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InputError(f"--out {out}: {existing[0].name} already exists{more}; choose another folder, or add "
                         f"--force to replace {'them' if more else 'it'}")
    for lesson, path in zip(chosen, paths):
        write_atomic(path, nbformat.writes(notebook(lesson, language, student)))
    return paths
