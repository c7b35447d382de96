"""What an export's files are called and which of their keys may be kept.

Whitelists, not blacklists: a key not named here (username, ip_addr, user_agent_decrypted,
conn_country, city, region, metro_code, latitude, longitude, offline_timestamp, and whatever
Spotify adds next) never leaves the file, not even in a rejected row. Key sets by vintage are in
../shared/SPOTIFY.md.
"""

from __future__ import annotations

import re

# File name -> what it holds. Older vintages in brackets.
FILE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Account data: StreamingHistory_music_N.json [StreamingHistoryN.json, music and podcasts
    # mixed], StreamingHistory_podcast_N.json.
    ("account-music", re.compile(r"^StreamingHistory_music_\d+\.json$", re.IGNORECASE)),
    ("account-mixed", re.compile(r"^StreamingHistory\d+\.json$", re.IGNORECASE)),
    ("account-podcast", re.compile(r"^StreamingHistory_podcast_\d+\.json$", re.IGNORECASE)),
    # Extended history: Streaming_History_Audio_*.json [endsong_N.json], and its video files.
    (
        "extended-audio",
        re.compile(r"^(?:Streaming_History_Audio_.*|endsong(?:_\d+)?)\.json$", re.IGNORECASE),
    ),
    (
        "extended-video",
        re.compile(r"^(?:Streaming_History_Video_.*|endvideo(?:_\d+)?)\.json$", re.IGNORECASE),
    ),
    # Track references of the account export, and the one personal file read (for the username).
    ("library", re.compile(r"^YourLibrary\.json$", re.IGNORECASE)),
    ("playlists", re.compile(r"^Playlist\d*\.json$", re.IGNORECASE)),
    ("userdata", re.compile(r"^Userdata\.json$", re.IGNORECASE)),
)
HISTORY_KINDS = frozenset(
    {"account-music", "account-mixed", "account-podcast", "extended-audio", "extended-video"}
)

# Export key -> its type, for the keys an extended-history record may keep. They land under
# their own names; dbt staging renames and derives.
EXTENDED_KEYS: dict[str, str] = {
    "ts": "timestamp",
    "ms_played": "milliseconds",
    "master_metadata_track_name": "text",
    "master_metadata_album_artist_name": "text",
    "master_metadata_album_album_name": "text",
    "spotify_track_uri": "text",
    "episode_name": "text",
    "episode_show_name": "text",
    "spotify_episode_uri": "text",
    "audiobook_title": "text",
    "audiobook_uri": "text",
    "audiobook_chapter_uri": "text",
    "audiobook_chapter_title": "text",
    "reason_start": "text",
    "reason_end": "text",
    "shuffle": "flag",
    "skipped": "flag",
    "offline": "flag",
    "incognito_mode": "flag",
}
# Account-data keys (podcast files name podcastName / episodeName instead), landed in snake
# case (end_time, ms_played, ...).
ACCOUNT_KEYS: dict[str, str] = {
    "endTime": "minute",
    "msPlayed": "milliseconds",
    "artistName": "text",
    "trackName": "text",
    "podcastName": "text",
    "episodeName": "text",
}
# A music record names its track: without one it is no play of anything.
ACCOUNT_REQUIRED = {"account-music": ("trackName",), "account-mixed": ("trackName",)}
# Read from a record only to be turned into something that is not personal: the username into
# a salted hash (the listener), the device string into a coarse family.
USERNAME_KEY = "username"
PLATFORM_KEY = "platform"

# Device strings of older vintages -> a coarse family; the raw string can name a device.
PLATFORMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("web", ("web_player", "web player", "webplayer")),
    ("tv", ("android_tv", "android tv", "tizen", "webos", "roku", "smart tv", "tv")),
    ("car", ("android auto", "carplay", "car ")),
    ("console", ("playstation", "ps4", "ps5", "xbox")),
    ("cast", ("cast", "chromecast")),
    ("speaker", ("sonos", "alexa", "echo", "speaker", "bose")),
    ("android", ("android",)),
    ("ios", ("ios", "iphone", "ipad")),
    ("windows", ("windows",)),
    ("macos", ("os x", "osx", "macos", "mac os")),
    ("linux", ("linux",)),
)

# Extended-history files (~12 MB each) parsed by DuckDB in one statement: bounded memory.
FILES_PER_BATCH = 16
# Rejected records keep at most this many characters of a value in their reason.
REASON_VALUE_CHARS = 60
