import MuseServer
