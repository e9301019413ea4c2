"""Volume validation the kubelet runs on a static pod (pkg/apis/core/validation/validation.go
v1.35.4): ValidateVolumes L453-496, validateVolumeSource L552-814 (more than one source),
validateHostPathVolumeSource L816-826, validateHostPathType L1392-1400, validatePathNoBacksteps
L1420-1430, ValidateVolumeMounts L3105-3151, validateLocalDescendingPath L1405-1414,
validateMountPropagation L1434-1462.

Only hostPath and emptyDir sources are checked inside; any other source counts as valid
(static pods that use them are rejected from v1.34 for naming API objects).
"""

from __future__ import annotations

import posixpath
from typing import Any

from podaudit.kubelet.apinames import dns_label_errors
from podaudit.kubelet.defaults import go_bool, go_str, host_path_type, items, mapping, present, volume_kinds
from podaudit.kubelet.fielderrors import duplicate, forbidden, invalid, not_found, not_supported, required
from podaudit.kubelet.quantity import quantity_of

# VolumeSource fields in validateVolumeSource's order, with the path its "more than 1" error
# names (two are misspelt upstream: cephFS, downwarAPI).
SOURCES = {
    "emptyDir": "emptyDir", "hostPath": "hostPath", "gitRepo": "gitRepo", "gcePersistentDisk": "gcePersistentDisk",
    "awsElasticBlockStore": "awsElasticBlockStore", "secret": "secret", "nfs": "nfs", "iscsi": "iscsi",
    "glusterfs": "glusterfs", "flocker": "flocker", "persistentVolumeClaim": "persistentVolumeClaim", "rbd": "rbd",
    "cinder": "cinder", "cephfs": "cephFS", "quobyte": "quobyte", "downwardAPI": "downwarAPI", "fc": "fc",
    "flexVolume": "flexVolume", "configMap": "configMap", "azureFile": "azureFile", "vsphereVolume": "vsphereVolume",
    "photonPersistentDisk": "photonPersistentDisk", "portworxVolume": "portworxVolume", "azureDisk": "azureDisk",
    "storageos": "storageos", "projected": "projected", "scaleIO": "scaleIO", "csi": "csi", "ephemeral": "ephemeral",
    "image": "image",
}
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
PROPAGATIONS = ["Bidirectional", "HostToContainer", "None"]


def validate_volumes(spec: dict[str, Any]) -> tuple[set[str], list[str]]:
    """ValidateVolumes: the names of the valid volumes (a mount may only name those) and errors."""
    names: set[str] = set()
    errors: list[str] = []
    for i, volume in enumerate(items(spec.get("volumes"))):
        where = f"spec.volumes[{i}]"
        name = go_str(volume, "name")
        found = _source_errors(where, volume)
        found += [required(f"{where}.name")] if not name else [
            invalid(f"{where}.name", name, e) for e in dns_label_errors(name)]
        if name in names:
            found.append(duplicate(f"{where}.name", name))
        if found:
            errors += found
        else:
            names.add(name)
    return names, errors


def _source_errors(where: str, volume: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for count, kind in enumerate(volume_kinds(volume, tuple(SOURCES))):
        if count:
            errors.append(forbidden(f"{where}.{SOURCES[kind]}", "may not specify more than 1 volume type"))
        elif kind == "hostPath":
            errors += _host_path_errors(f"{where}.hostPath", mapping(volume.get("hostPath")))
        elif kind == "emptyDir":
            limit = quantity_of(mapping(volume.get("emptyDir")).get("sizeLimit"))
            if present(mapping(volume.get("emptyDir")), "sizeLimit") and limit is not None and limit.value < 0:
                errors.append(forbidden(f"{where}.emptyDir.sizeLimit",
                                        "SizeLimit field must be a valid resource quantity"))
    return errors


def _host_path_errors(where: str, host_path: dict[str, Any]) -> list[str]:
    path = go_str(host_path, "path")
    if not path:
        return [required(f"{where}.path")]
    errors = backstep_errors(f"{where}.path", path)
    kind = host_path_type(host_path)
    if kind not in HOST_PATH_TYPES:
        errors.append(not_supported(f"{where}.type", kind, HOST_PATH_TYPES))
    return errors


def backstep_errors(where: str, path: str) -> list[str]:
    """validatePathNoBacksteps: one error however many '..' elements."""
    return [invalid(where, path, "must not contain '..'")] if ".." in path.split("/") else []


def _descending_errors(where: str, path: str) -> list[str]:
    """validateLocalDescendingPath."""
    errors = [invalid(where, path, "must be a relative path")] if posixpath.isabs(path) else []
    return errors + backstep_errors(where, path)


def validate_mounts(where: str, container: dict[str, Any], volumes: set[str]) -> list[str]:
    """ValidateVolumeMounts for one container; ``where`` is its path."""
    errors: list[str] = []
    seen: set[str] = set()
    base = f"{where}.volumeMounts"
    for i, mount in enumerate(items(container.get("volumeMounts"))):
        at = f"{base}[{i}]"
        name, path = go_str(mount, "name"), go_str(mount, "mountPath")
        errors += [required(f"{at}.name")] if not name else []
        errors += [not_found(f"{at}.name", name)] if name not in volumes else []
        errors += [required(f"{at}.mountPath")] if not path else []
        errors += [invalid(f"{at}.mountPath", path, "must be unique")] if path in seen else []
        seen.add(path)
        sub, expr = go_str(mount, "subPath"), go_str(mount, "subPathExpr")
        # Upstream names these paths without the mount's index.
        errors += _descending_errors(f"{base}.subPath", sub) if sub else []
        if expr:
            exclusive = "subPathExpr and subPath are mutually exclusive"
            errors += [invalid(f"{at}.subPathExpr", expr, exclusive)] if sub else []
            errors += _descending_errors(f"{base}.subPathExpr", expr)
        if present(mount, "mountPropagation"):
            errors += _propagation_errors(f"{base}.mountPropagation", go_str(mount, "mountPropagation"), container)
    return errors


def _propagation_errors(where: str, mode: str, container: dict[str, Any]) -> list[str]:
    errors = [not_supported(where, mode, PROPAGATIONS)] if mode not in PROPAGATIONS else []
    privileged = go_bool(mapping(container.get("securityContext")), "privileged")
    if mode == "Bidirectional" and not privileged:
        errors.append(forbidden(where, "Bidirectional mount propagation is available only to privileged containers"))
    return errors
