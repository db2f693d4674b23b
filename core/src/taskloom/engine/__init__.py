"""The older vocabulary's import paths: `taskloom.engine.state` holds the states."""
