"""`flopwatt report PROFILE --output chart.png|svg`: a roofline chart of a hardware profile.

PROFILE is a JSON file or a stored profile ("profiles/{id}" or the id). The roof is the
datasheet of the profile's catalog hardware (peak FLOP/s per precision, HBM bandwidth); for
CPUs and uncatalogued devices it is the profile's own measured ceilings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flopwatt.service.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="draw a roofline chart of a hardware profile")
    parser.add_argument("profile", help="profile JSON file, or profiles/{id} from the data directory")
    parser.add_argument("--output", required=True, help="chart file, .png or .svg")
    parser.add_argument("--data-dir", help="data directory (default: $FLOPWATT_DATA_DIR or ~/.local/share/flopwatt)")
    parser.set_defaults(handler=run)


def load_profile(reference: str, data_dir: str | None) -> dict:
    from flopwatt.bench.errors import ProfileFormatError
    from flopwatt.bench.profile import parse_profile_file
    from flopwatt.bench.store import ProfileNotFound, ProfileStore, database_path

    path = Path(reference)
    if path.is_file():
        try:
            documents = parse_profile_file(path.read_text(), reference)
        except ProfileFormatError as error:
            raise CliError(str(error)) from None
        if len(documents) != 1:
            raise CliError(f"{reference}: holds {len(documents)} profiles; export one and chart that")
        return documents[0]
    database = database_path(data_dir)
    if not database.exists():
        raise CliError(f"{reference}: no such file, and no profile store at {database}")
    try:
        return ProfileStore(database).get(reference.removeprefix("profiles/"))
    except ProfileNotFound:
        raise CliError(f"{reference}: no such file or stored profile") from None


def roof_for(document: dict):
    from flopwatt.bench.roofline import Roof, roof_from_ceilings

    hardware_id = document["device"].get("hardware_id")
    if document["device"]["kind"] == "cuda" and hardware_id:
        from flopwatt.service.catalog import get_hardware

        spec = get_hardware(hardware_id)
        return Roof(dict(spec.peak_flops_per_second), spec.memory_bandwidth_bytes_per_second, f"datasheet {spec.id}")
    return roof_from_ceilings(document["ceilings"])


def run(args: argparse.Namespace) -> int:
    from flopwatt.bench.roofline import draw_roofline

    document = load_profile(args.profile, args.data_dir)
    try:
        output = draw_roofline(document, roof_for(document), args.output)
    except ValueError as error:
        raise CliError(str(error)) from None
    print(f"wrote {output}")
    return 0
