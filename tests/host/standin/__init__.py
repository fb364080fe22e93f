"""The stand-in Dokku host's library: see tests/host/dokku."""
