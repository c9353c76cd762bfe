-- demo/generate.sql — placeholder until the demo generator lands: the test fixture.
\ir ../test/fixtures/one_row_each.sql
