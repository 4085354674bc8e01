"""Stage 9, the course's own tools: the notebooks' exercise checks and hints, the grader, the
student versions of the notebooks, and recording your own voice on Colab. Nothing in the library
imports them. May import every stage.
"""
