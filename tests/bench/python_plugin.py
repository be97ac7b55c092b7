#!/usr/bin/env python3
"""The peer for the plugin latency benchmark: a minimal XAPI host plugin written the way XCP-ng's
plugins are (XenAPIPlugin-style dispatch: xmlrpc.client.loads(argv[1]), call, dumps a Status
struct), whose `list` does the same work as `xenpci-plugin`'s `list`: walk
<root>/sys/bus/pci/devices, read each function's ids, class, revision, driver and IOMMU group,
look the names up in the PCI ID database (pci.ids, as lspci does), and return the JSON array.

XenAPIPlugin.py itself ships only on XAPI hosts, so its dispatch (reference xapi-xe.md §3.3) is
reproduced here in a few lines; the interpreter start and the imports are the real cost.
"""
import json
import os
import sys
import xmlrpc.client

PCI_IDS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"]


def load_names():
    vendors, devices, classes = {}, {}, {}
    path = next((p for p in PCI_IDS if os.path.exists(p)), None)
    if path is None:
        return vendors, devices, classes
    vendor = cls = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("C "):
                cls = line[2:4]
                classes[cls] = line[6:].strip()
                vendor = None
            elif line[0] != "\t":
                vendor, cls = line[:4], None
                vendors[vendor] = line[6:].strip()
            elif line.startswith("\t\t"):
                continue
            elif vendor:
                devices[(vendor, line[1:5])] = line[7:].strip()
            elif cls:
                classes[cls + line[1:3]] = line[5:].strip()
    return vendors, devices, classes


def read(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def fn_list(session, args):
    root = os.environ.get("XENPCI_ROOT", "/")
    base = os.path.join(root, "sys/bus/pci/devices")
    vendors, devices, classes = load_names()
    out = []
    for bdf in sorted(os.listdir(base)):
        d = os.path.join(base, bdf)
        ven = (read(d, "vendor") or "0x0000")[2:]
        dev = (read(d, "device") or "0x0000")[2:]
        cls = (read(d, "class") or "0x000000")[2:]
        drv = os.path.join(d, "driver")
        grp = os.path.join(d, "iommu_group")
        out.append({
            "bdf": bdf, "vendor_id": ven, "device_id": dev, "class": cls,
            "subsystem_vendor_id": (read(d, "subsystem_vendor") or "0x0000")[2:],
            "subsystem_device_id": (read(d, "subsystem_device") or "0x0000")[2:],
            "revision": (read(d, "revision") or "0x00")[2:],
            "vendor_name": vendors.get(ven), "device_name": devices.get((ven, dev)),
            "class_name": classes.get(cls[:4]) or classes.get(cls[:2]),
            "driver": os.path.basename(os.readlink(drv)) if os.path.islink(drv) else None,
            "iommu_group": int(os.path.basename(os.readlink(grp))) if os.path.islink(grp) else None,
        })
    return json.dumps(out)


def dispatch(fn_table):
    params, methodname = xmlrpc.client.loads(sys.argv[1])
    session, args = params[0], params[1]
    if methodname not in fn_table:
        result = {"Status": "Failure", "ErrorDescription": ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", methodname]}
    else:
        try:
            result = {"Status": "Success", "Value": fn_table[methodname](session, args)}
        except Exception as e:
            result = {"Status": "Failure",
                      "ErrorDescription": ["XENAPI_PLUGIN_FAILURE", methodname, e.__class__.__name__, str(e)]}
    print(xmlrpc.client.dumps((result,), "", True))


if __name__ == "__main__":
    dispatch({"list": fn_list})
