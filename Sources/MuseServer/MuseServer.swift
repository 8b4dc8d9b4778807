import MuseIPC
