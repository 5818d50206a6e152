"""qpd.lib: helpers with no web or storage knowledge: spec, tz, util,
delegation, mail."""
