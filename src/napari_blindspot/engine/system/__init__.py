"""The machine the engine runs on: devices and precision (:mod:`.device`), CPU threads
(:mod:`.threads`), the memory guard (:mod:`.memory`), native libraries (:mod:`.native_libs`) and
the checks of ``blindspot doctor`` (:mod:`.gpu_check`, :mod:`.software_check`)."""
