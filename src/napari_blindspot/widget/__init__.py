"""The napari dock widget: a Qt view (:mod:`.dock` and its sections) of a Qt-free controller
(:mod:`.controller`, with :mod:`.state`, :mod:`.jobs`, :mod:`.preview` and :mod:`.layers`)."""
