"""Sardana's NXscanH5 recorder, storing camera frames that are not square.

Sardana 3.7's `NXscanH5_FileRecorder` sizes a 2D channel's dataset by the channel's `Shape`,
which Sardana defines as [x, y], and then writes each frame as the numpy array the channel
gives, (y, x): any frame that is not square fails the scan ("Can't broadcast (16, 32) ->
(32, 16)"). This subclass sizes those datasets (y, x), as the frames come; nothing else changes.
"""

import posixpath

from sardana.macroserver.recorders import h5storage


class NanomriNXscanH5Recorder(h5storage.NXscanH5_FileRecorder):
    """NXscanH5 (one entry per scan in one file) with frames stored as (y, x)."""

    def _startRecordList(self, recordlist):
        super()._startRecordList(recordlist)
        if self.filename is None or self.savemode != h5storage.SaveModes.Record:
            return
        measurement = self.fd[posixpath.join(self.entryname, "measurement")]
        for dd in self.datadesc:
            if len(dd.shape) != 2 or dd.value_ref_enabled:
                continue
            units = measurement[dd.label].attrs.get("units")
            del measurement[dd.label]
            dd.shape = tuple(reversed(dd.shape))
            shape = [0, *dd.shape]
            ds = measurement.create_dataset(dd.label, dtype=dd.dtype, shape=shape,
                                            maxshape=[None, *dd.shape], chunks=(1, *dd.shape),
                                            compression=self._compression(shape))
            if units is not None:
                ds.attrs["units"] = units
        self.fd.flush()
