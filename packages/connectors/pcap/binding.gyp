{
  "targets": [
    {
      "target_name": "capture",
      "sources": ["src/native/capture.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall"],
      "libraries": ["-lpcap"]
    }
  ]
}
