"""The spaCy backends: a blank NER pipeline trained in-process (:mod:`.ner`), a blank textcat
pipeline (:mod:`.textcat`), an installed pipeline applied as is (:mod:`.pretrained`), the
training configuration (:mod:`.config`) and nercurve ↔ spaCy documents (:mod:`.docs`).
Nothing here imports spaCy at import time."""
