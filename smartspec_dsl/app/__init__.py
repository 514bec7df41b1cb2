"""The smart-specialization paper's application: its scenarios as data and
runs (`scenarios`), figures (`figures`), report and tables (`report`), the
command that runs them all (`paper`), its static evaluation (`evaluate`) and
`make demo` (`demo`)."""
