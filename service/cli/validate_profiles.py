"""`flopwatt validate`: the datasheet path against the measured GPU profiles that ship with flopwatt.

The profiles are the package data of flopwatt.bench (bench/results/*.json, committed as measured);
estimate/validation/measured_profiles.py does the comparison. Printed after the published tables,
and under "measured_profiles" in --json."""

from __future__ import annotations

from dataclasses import asdict


def measured_profiles_report() -> list[dict]:
    from flopwatt.bench.shipped_profiles import shipped_gpu_profiles
    from flopwatt.estimate.validation.measured_profiles import compare_profile

    return [asdict(compare_profile(document, name)) for name, document in shipped_gpu_profiles()]


def print_measured_profiles(report: list[dict]) -> None:
    print(
        "\ndatasheet path vs measured profiles (bench/results/; error = predicted ÷ measured time − 1, "
        "+ = the model is slower than the hardware; nothing fitted)"
    )
    for profile in report:
        print(
            f"{profile['profile_name']}: {profile['device_name']} ({profile['hardware_id']}), {profile['created_time']}"
        )
        print(f"  {'operations':<30} {'rows':>5} {'median':>8} {'mean |e|':>9} {'worst':>8}  worst shape")
        for group in profile["groups"]:
            print(
                f"  {group['quantity']:<30} {group['rows']:>5} {group['median_signed_error_percent']:>+7.1f}% "
                f"{group['mean_absolute_error_percent']:>8.1f}% {group['worst_signed_error_percent']:>+7.1f}%  "
                f"{group['worst_shape']}"
            )
        for scalar in profile["scalars"]:
            print(
                f"  {scalar['quantity']:<34} datasheet {scalar['datasheet_value']:.4g} {scalar['unit']}, "
                f"measured {scalar['measured_value']:.4g}: {scalar['time_error_percent']:+.1f}%"
            )
