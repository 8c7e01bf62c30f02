"""The napari dock widget: Qt views (:mod:`._qt`: the dock and its sections) of a Qt-free
controller (:mod:`.controller`, with :mod:`.state`, :mod:`.jobs`, :mod:`.preview` and :mod:`.layers`)."""
