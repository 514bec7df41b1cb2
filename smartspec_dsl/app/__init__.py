"""The smart-specialization paper's application: its scenarios and figures
(`paper`), its static evaluation (`evaluate`) and `make demo` (`demo`)."""
