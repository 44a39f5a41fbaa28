{
  "targets": [
    {
      "target_name": "vipd_native",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/bpf_object.cc",
        "native/bpf_ops.cc",
        "native/bpf_mmap.cc",
        "native/btf_layout.cc",
        "native/sys.cc",
        "native/vrrp_native.cc",
        "native/vrrp_socket.cc",
        "native/vrrp_absorb.cc",
        "native/vrrp_sender.cc",
        "native/net_packet.cc",
        "native/net_rtnl.cc",
        "native/net_notify.cc",
        "native/bfd_packet.cc",
        "native/bfd.cc",
        "native/maglev.cc",
        "native/loop_watch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter",
                    "<!@(pkg-config --cflags libbpf)"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["<!@(pkg-config --libs libbpf)", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
