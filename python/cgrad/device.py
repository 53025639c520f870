"""Device (the default device, as tinygrad's `Device.DEFAULT`) and GlobalCounters (kernel stats)."""
from ._lib import lib, check_rc


class _Device:
    """`Device.DEFAULT` reads and sets the C library's default device (DEV= at start)."""

    @property
    def DEFAULT(self):
        return lib.cg_default_device().decode()

    @DEFAULT.setter
    def DEFAULT(self, name):
        check_rc(lib.cg_set_default_device(self.canonicalize(name).encode()))

    @staticmethod
    def canonicalize(device):
        """"cpu" -> "CPU", "cuda:0" -> "CUDA"; None -> the default device."""
        if device is None:
            return Device.DEFAULT
        head, sep, index = device.partition(":")
        return head.upper() + (sep + index if sep and index != "0" else "")

    @staticmethod
    def get_available_devices():
        """Names of the registered devices that can run kernels here."""
        for i in range(lib.cg_device_count()):
            name = lib.cg_device_name(i)
            if name and lib.cg_device_available(name):
                yield name.decode()

    @staticmethod
    def set_profiling(on=True):
        """Time each GPU kernel on the device into GlobalCounters.time_sum_s (waits for each)."""
        lib.cg_set_profiling(1 if on else 0)

    def synchronize(self, device=None):
        """Wait for the kernels queued on a device (GPU launches are asynchronous)."""
        name = self.canonicalize(device) if device else None
        check_rc(lib.cg_synchronize(name.encode() if name else None))

    def __repr__(self):
        return f"<Device DEFAULT={self.DEFAULT}>"


Device = _Device()


class _CountersMeta(type):
    kernel_count = property(lambda cls: int(lib.cg_get_stats().kernels_run),
                            doc="kernels launched since start or the last reset")
    global_ops = property(lambda cls: int(lib.cg_get_stats().flops), doc="arithmetic operations")
    global_mem = property(lambda cls: int(lib.cg_get_stats().bytes), doc="bytes read and written")
    time_sum_s = property(lambda cls: float(lib.cg_get_stats().time_s), doc="seconds in kernels")
    kernels_compiled = property(lambda cls: int(lib.cg_get_stats().kernels_compiled))


class GlobalCounters(metaclass=_CountersMeta):
    """tinygrad's GlobalCounters, read live from cg_get_stats()."""

    @staticmethod
    def reset():
        lib.cg_reset_stats()
