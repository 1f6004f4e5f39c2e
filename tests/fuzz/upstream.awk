# Reads a libFuzzer/sanitizer log and decides whether its first report is a fault inside libhdf5
# reached from a call that hands libhdf5 no buffer of pdecon's (opening, looking up and
# describing objects): prints "upstream <API>" then, else "pdecon <reason>".
# The frames of the first stack after the report line, from the innermost out: sanitizer and libc
# frames (no source file of pdecon), then libhdf5 frames, then the first pdecon frame
# (src/ or tests/fuzz/). Any other library on the way, or an HDF5 call that reads into or writes
# from pdecon's memory, is not upstream.
BEGIN {
  split("H5Fopen H5Fclose H5Lexists H5Oopen H5Oclose H5Oget_info3 H5Oget_info_by_name3 H5Dopen2 " \
        "H5Dclose H5Dget_space H5Dget_type H5Dget_create_plist H5Dget_storage_size H5Pget_layout " \
        "H5Pget_chunk H5Pget_nfilters H5Pget_filter2 H5Aexists H5Aopen H5Aclose H5Aget_space " \
        "H5Aget_type H5Sget_simple_extent_ndims H5Sget_simple_extent_dims " \
        "H5Sget_simple_extent_npoints H5Sclose H5Tget_class H5Tget_size H5Tget_sign H5Tget_order " \
        "H5Tclose H5Pclose H5Fget_obj_count", names, " ")
  for (i in names) allowed[names[i]] = 1
  state = 0; api = ""; verdict = ""
}
verdict != "" { next }
state == 0 && /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)/ { state = 1; next }
state == 1 && /^ +#[0-9]+ / {
  line = $0
  fn = ""
  for (i = 1; i <= NF; i++) if ($i == "in") { fn = $(i + 1); break }
  if (line ~ /\/(src|tests\/fuzz)\/[^ ]+\.[ch]:[0-9]+/) {
    if (api == "") verdict = "pdecon fault in pdecon's own code (" fn ")"
    else if (!(api in allowed)) verdict = "pdecon fault inside " api ", which works on pdecon's buffers"
    else verdict = "upstream " api
    next
  }
  if (line ~ /libhdf5/) { api = fn; next }
  if (line ~ /libc\.so|string\/\.\.\/sysdeps|\(.*fuzz_[a-z0-9_]+\+0x/) next   # libc, sanitizer runtime
  verdict = "pdecon fault through another library (" fn ")"
  next
}
state == 1 && !/^ +#[0-9]+ / && api != "" { verdict = "pdecon stack ends inside libhdf5" }
END {
  if (verdict == "") verdict = state ? "pdecon no stack to classify" : "pdecon no sanitizer report"
  print verdict
}
