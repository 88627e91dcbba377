"""The command-line faces of the course: ``course-retrain`` and ``course-classify``.

Each tool only parses its options, calls :mod:`course_utils.data`, :mod:`course_utils.features`,
:mod:`course_utils.models` and :mod:`course_utils.training`, and prints and writes the results.
What both need lives in :mod:`course_utils.cli.common`.
"""
