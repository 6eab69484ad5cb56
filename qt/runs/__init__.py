"""Whole runs from a composed config: validate, build, load, drive the engine, write the outputs."""
