"""The front end: model text in, model IR out (the Vensim grammar, the parser,
the data files a model reads, Vensim changes files)."""
