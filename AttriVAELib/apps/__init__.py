"""The applications built on the library: the ``attrivae`` command line (:mod:`.cli`, its progress lines in
:mod:`.console`), the demo (:mod:`.demo`), the evaluation report (:mod:`.report`) and small valid inputs at
any size for ``attrivae bench``, the benchmarks and the tests (:mod:`.samples`). Nothing in the library
imports from here."""
