"""The loop: the resumable orchestrator (`orchestrator`), its pure stages and the run store."""
