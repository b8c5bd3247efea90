"""Pure DataFrame -> DataFrame functions, schemas and rules shared by every stage. No session, no config, no I/O."""
