"""A trained model applied to subjects: encoding, decoding and classifying (:mod:`.inference`), attention maps
(:mod:`.attention`), traversals in attribute units (:mod:`.traversal`), cohort export with 95 % intervals
(:mod:`.codes`) and one subject end to end in its own geometry (:mod:`.analysis`). Imports :mod:`..modelfile`
and the wings below it."""
