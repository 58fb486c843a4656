#!/usr/bin/env bash
# Mutation testing of itdose's core with mutmut 3 (docs/architecture.md#evidence). NOT part of CI: a full run
# takes tens of minutes. Results and the equivalent mutants are recorded in docs/mutation.md.
#
#   tools/mutation.sh [MODULE ...]      e.g. tools/mutation.sh governor ledger
#
# MODULE is a file name under core/ without ".py", or PACKAGE/NAME for a module of another package
# (specs/library_schema, adapters/library_report, core/handlers/dosing); default: governor ledger arith units program and
# the delivery engine (dosing flight basal bolus drive_reports).
# Environment: MUT_WORK (work directory, default /tmp/itdose-mutation; deleted and recreated),
# MUTMUT_VERSION (default 3.8.1), PYTHON (default python3), MUT_JOBS (parallel workers, default
# the number of CPUs).
#
# How it works, and why:
# - Nothing is written inside the repository: the tracked files of the working tree are copied to
#   $MUT_WORK, and mutmut runs there (it writes its mutants/ directory next to the config).
# - The repository maps folders to packages with setuptools package-dir (core/ -> itdose.core).
#   mutmut 3 derives a mutant's module name from its file path relative to ".", "src" or
#   "source", and puts mutants/src first on sys.path. So the copy is laid out as src/itdose/core,
#   src/itdose/specs, ... (itdose is a namespace package), and itdose itself is NOT installed in
#   the venv (only its dependencies and the test tools): `import itdose.core.governor` then finds
#   the mutated mutants/src/itdose/core/governor.py, and the trampolines record which tests reach
#   which function. An editable install of the copy would point at the unmutated folder instead.
# - Fast test selection: only the tests/core files that exercise the mutated modules, with
#   HYPOTHESIS_PROFILE=dev, -x (mutmut adds it) and -p no:cacheprovider. mutmut itself runs, per
#   mutant, only the tests that reached the mutated function.
#
#   tools/mutation.sh --proofs-only [--modules arith governor] [...]
#
# runs the proof-only mutation instead (tools/proof_mutation.py: the Z3 obligations are the only
# tests; no mutmut, nothing copied); every option after --proofs-only goes to that tool.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${1:-}" = "--proofs-only" ]; then
    shift
    exec "${PYTHON:-python3}" "$REPO/tools/proof_mutation.py" "$@"
fi
WORK="${MUT_WORK:-/tmp/itdose-mutation}"
MUTMUT_VERSION="${MUTMUT_VERSION:-3.8.1}"
PYTHON="${PYTHON:-python3}"
JOBS="${MUT_JOBS:-$(nproc 2>/dev/null || echo 2)}"
if [ "$#" -gt 0 ]; then MODULES=("$@"); else MODULES=(governor ledger arith units program dosing flight basal bolus drive_reports); fi

case "$WORK" in
"$REPO" | "$REPO"/*)
    echo "MUT_WORK must be outside the repository" >&2
    exit 2
    ;;
esac

echo "== copy $REPO -> $WORK (tracked files of the working tree)"
rm -rf "$WORK"
mkdir -p "$WORK/src/itdose"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$REPO" && xargs -0 -I{} sh -c 'test -f "{}" && cp --parents "{}" "'"$WORK"'/" || true')
for pkg in core specs proofs adapters; do
    mv "$WORK/$pkg" "$WORK/src/itdose/$pkg"
done

echo "== venv with mutmut $MUTMUT_VERSION (itdose itself is not installed, see above)"
"$PYTHON" -m venv "$WORK/.venv"
"$WORK/.venv/bin/pip" install -q "mutmut==$MUTMUT_VERSION" pytest hypothesis "transitions>=0.9"

# Test files for each module: its own tests plus the ones that drive it through the public API.
declare -A TESTS=(
    [governor]="tests/core/test_governor.py"
    [ledger]="tests/core/test_ledger.py tests/core/test_governor.py"
    [arith]="tests/core/test_governor.py tests/core/test_arith.py"
    [units]="tests/core/test_units.py tests/core/test_units_errors.py"
    [program]="tests/core/test_program.py tests/core/test_program_violations.py tests/core/test_dst_two_changes.py"
    [schedule]="tests/core/test_program.py tests/core/test_program_violations.py tests/core/test_dst_two_changes.py"
    [dosing]="tests/core/test_dosing.py tests/core/test_mri.py tests/core/test_mri_emergency.py tests/core/test_refill.py tests/core/test_an_emergency_scan_during_an_unfinished_priming.py tests/core/test_a_remnant_of_one_or_two_nanolitres_at_a_drug_change.py tests/core/test_a_drive_moving_more_than_ordered_at_a_drug_change.py"
    [fill]="tests/core/test_the_whole_nanolitre_fill_follows_the_fluid_a_window_can_hold_alone.py tests/core/test_tip_dose_limits.py tests/core/test_dosing.py tests/core/test_hard_maximum_programs_at_any_concentration.py tests/core/test_short_runs_of_concentrations_near_the_hard_maximum.py"
    [reach]="tests/core/test_a_report_that_is_an_upper_bound.py tests/core/test_an_upper_bound_across_a_drug_change.py tests/core/test_an_upper_bound_and_an_emergency_scan.py tests/core/test_mri_emergency.py tests/core/test_an_emergency_scan_with_a_shadow_of_the_old_drug.py tests/core/test_a_bolus_through_a_shadow_of_the_old_drug.py tests/core/test_a_bolus_over_a_shadow_of_under_10_ul_of_the_old_drug.py tests/core/test_the_basal_through_a_shadow_moves_its_drug_at_its_own_rate.py tests/core/test_the_old_drug_within_a_doubt_leaves_at_its_own_rate.py tests/core/test_emergency_mri_with_two_drugs_within_10_ul.py tests/core/test_an_emergency_scan_with_a_drug_between_two_fluids_of_another.py"
    [flight]="tests/core/test_dosing.py tests/core/test_long_segments.py tests/core/test_bolus_leaves_room_for_basal.py tests/core/test_refill.py tests/core/test_fluid_path.py tests/core/test_the_cap_room_is_the_largest_amount_that_fits.py tests/core/test_mri_emergency.py tests/core/test_the_whole_nanolitre_fill_follows_the_fluid_a_window_can_hold_alone.py tests/core/test_tip_dose_limits.py tests/core/test_a_bolus_to_the_maximum_while_a_cut_order_is_unreported.py tests/core/test_bolus_during_a_concentration_change.py tests/core/test_a_run_of_one_nanolitre.py tests/core/test_boluses_under_a_flex_program.py"
    [basal]="tests/core/test_dosing.py tests/core/test_long_segments.py tests/core/test_bolus_leaves_room_for_basal.py tests/core/test_refill.py tests/core/test_fluid_path.py tests/core/test_basal_a_doubt_withholds_below_the_maximum_is_announced.py tests/core/test_basal_in_full_after_a_drug_change.py tests/core/test_basal_in_full_around_boluses.py tests/core/test_the_basal_a_cut_run_carries_is_its_own.py tests/core/test_the_basal_through_a_shadow_moves_its_drug_at_its_own_rate.py tests/core/test_program_at_the_hard_maximum.py tests/core/test_hard_maximum_programs_at_any_concentration.py tests/core/test_short_runs_of_concentrations_near_the_hard_maximum.py tests/core/test_a_run_of_one_nanolitre.py tests/core/test_a_remnant_of_the_old_drug_goes_with_the_drug_behind_it.py tests/core/test_a_stopped_order_carries_what_its_pace_owed.py tests/core/test_the_old_drug_within_a_doubt_leaves_at_its_own_rate.py tests/core/test_a_first_second_cut_to_nothing_at_the_hard_maximum.py tests/core/test_a_remnant_of_one_or_two_nanolitres_at_a_drug_change.py tests/core/test_a_run_of_another_drug_between_two_fluids_of_one.py tests/core/test_a_bolus_through_a_shadow_of_the_old_drug.py tests/core/test_an_emergency_scan_with_a_shadow_of_the_old_drug.py tests/core/test_a_first_second_cut_part_way_at_the_hard_maximum.py tests/core/test_the_whole_nanolitre_fill_follows_the_fluid_a_window_can_hold_alone.py"
    [bolus]="tests/core/test_dosing.py tests/core/test_the_largest_clinician_boluses_across_a_rise_keep_the_hard_maximum.py tests/core/test_bolus_leaves_room_for_basal.py tests/core/test_refill.py tests/core/test_fluid_path.py tests/core/test_a_bolus_through_a_shadow_of_the_old_drug.py tests/core/test_a_bolus_over_a_shadow_of_under_10_ul_of_the_old_drug.py tests/core/test_bolus_during_a_concentration_change.py tests/core/test_a_bolus_during_a_drug_change.py tests/core/test_a_bolus_cancelling_an_order_across_two_concentrations.py tests/core/test_a_clinician_bolus_during_a_bolus_names_it.py tests/core/test_a_clinician_bolus_refusal_names_the_drug_in_its_way.py tests/core/test_the_cap_room_is_the_largest_amount_that_fits.py tests/core/test_a_bolus_to_the_maximum_while_a_cut_order_is_unreported.py tests/core/test_bolus_doses_of_a_fraction_of_a_nanolitre.py tests/core/test_a_refill_during_a_bolus.py tests/core/test_a_bolus_request_after_an_unexpected_drive_report.py tests/core/test_directed_therapy_at_the_hard_maximum.py tests/core/test_boluses_under_a_flex_program.py tests/core/test_a_shadow_at_the_end_of_a_bolus_reach.py tests/core/test_a_bolus_under_the_first_nanolitre_of_a_richer_fluid_at_the_tip.py"
    [drive_reports]="tests/core/test_dosing.py tests/core/test_long_segments.py tests/core/test_bolus_leaves_room_for_basal.py tests/core/test_refill.py tests/core/test_fluid_path.py tests/core/test_pace_deviation.py tests/core/test_a_stopped_order_carries_what_its_pace_owed.py tests/core/test_a_report_across_a_leaner_fluid.py tests/core/test_a_drive_moving_more_than_ordered_at_a_drug_change.py tests/core/test_a_doubt_larger_than_the_fluid_path_at_a_drug_change.py tests/core/test_a_report_that_is_an_upper_bound.py tests/core/test_a_cut_whose_cancel_is_not_known_carried_out.py tests/core/test_a_drive_that_keeps_moving_a_cut_basal_order_is_caught.py tests/core/test_a_cut_order_reported_late_as_a_richer_fluid_reaches_the_tip.py tests/core/test_an_emergency_scan_whose_cut_order_is_reported_late.py tests/core/test_an_upper_bound_across_a_drug_change.py tests/core/test_an_upper_bound_and_an_emergency_scan.py tests/core/test_an_emergency_scan_during_drug_changes_counts_every_drug.py tests/core/test_a_flush_dose_is_kept_while_its_drug_is_in_the_path.py tests/core/test_a_shadow_going_on_past_the_tip_counts_no_lag_nanolitre.py tests/core/test_a_cancelled_basal_order_reported_late.py"
    [path]="tests/core/test_fluid_path.py tests/core/test_dosing.py tests/core/test_state_json.py tests/core/test_a_report_across_a_leaner_fluid.py tests/core/test_bolus_during_a_concentration_change.py tests/core/test_a_bolus_during_a_drug_change.py"
    [core/handlers/__init__]="tests/core/test_commands.py tests/core/test_lifecycle.py tests/core/test_machine.py"
    [core/handlers/base]="tests/core/test_commands.py tests/core/test_lifecycle.py tests/core/test_machine.py tests/core/test_dosing.py tests/core/test_refill.py"
    [core/handlers/trial]="tests/core/test_commands.py tests/core/test_lifecycle.py tests/core/test_machine.py tests/core/test_restart.py tests/core/test_an_emergency_scan_during_an_unfinished_priming.py"
    [core/handlers/priming]="tests/core/test_commands.py tests/core/test_lifecycle.py tests/core/test_machine.py tests/core/test_restart.py tests/core/test_dosing.py tests/core/test_an_emergency_scan_during_an_unfinished_priming.py"
    [core/handlers/dosing]="tests/core/test_commands.py tests/core/test_dosing.py tests/core/test_lifecycle.py tests/core/test_machine.py tests/core/test_restart.py tests/core/test_refill.py tests/core/test_a_clinician_bolus_during_a_bolus_names_it.py tests/core/test_a_bolus_request_after_an_unexpected_drive_report.py tests/core/test_step_checks_devices_from_outside.py tests/core/test_a_report_that_is_an_upper_bound.py tests/core/test_a_clinician_bolus_refusal_names_the_drug_in_its_way.py tests/core/test_a_cut_whose_cancel_is_not_known_carried_out.py"
    [core/handlers/refill]="tests/core/test_commands.py tests/core/test_refill.py tests/core/test_lifecycle.py tests/core/test_dosing.py tests/core/test_restart.py tests/core/test_a_refill_during_a_bolus.py"
    [core/handlers/mri]="tests/core/test_commands.py tests/core/test_mri.py tests/core/test_mri_emergency.py tests/core/test_lifecycle.py tests/core/test_an_emergency_scan_during_an_unfinished_priming.py tests/core/test_a_suspend_or_an_emergency_scan_while_a_cut_order_is_unreported.py tests/core/test_step_checks_devices_from_outside.py tests/core/test_an_emergency_scan_whose_cut_order_is_reported_late.py tests/core/test_an_emergency_scan_with_a_shadow_of_the_old_drug.py tests/core/test_emergency_mri_with_two_drugs_within_10_ul.py"
    [core/handlers/alarms]="tests/core/test_commands.py tests/core/test_alarm_silencing.py tests/core/test_lifecycle.py tests/core/test_machine.py tests/core/test_dosing.py tests/core/test_a_device_in_alarm_without_an_alarm_is_refused.py"
    [machine]="tests/core/test_lifecycle.py tests/core/test_state_json.py tests/core/test_machine.py tests/core/test_step_checks_devices_from_outside.py tests/core/test_a_refill_during_a_bolus.py"
    [lifecycle]="tests/core/test_lifecycle.py tests/adapters/test_diagram.py"
    [library]="tests/core/test_library.py tests/core/test_dead_volume.py tests/specs/test_library_data.py"
    [dead_volume]="tests/core/test_dead_volume.py tests/specs/test_library_data.py"
    [specs/library_schema]="tests/specs/test_library_files.py tests/specs/test_library_file_errors.py tests/specs/test_library_data.py"
    [codec]="tests/core/test_state_json.py tests/core/test_codec.py"
    [state]="tests/core/test_state_json.py tests/core/test_lifecycle.py"
    [alarms]="tests/core/test_lifecycle.py tests/core/test_dosing.py tests/core/test_state_json.py"
    [serialization]="tests/core/test_state_json.py"
    [adapters/diagram]="tests/adapters/test_diagram.py tests/core/test_state_json.py tests/core/test_library.py"
    [adapters/library_report]="tests/adapters/test_drugs_report.py"
    [commands]="tests/core/test_state_json.py tests/core/test_lifecycle.py tests/core/test_library.py"
    [effects]="tests/core/test_dosing.py tests/core/test_state_json.py tests/core/test_library.py"
)
only=()
selection=()
for m in "${MODULES[@]}"; do
    case "$m" in */*) file="$m.py" ;; *) file="core/$m.py" ;; esac
    test -f "$WORK/src/itdose/$file" || {
        echo "no such module: $file" >&2
        exit 2
    }
    only+=("\"src/itdose/$file\"")
    for t in ${TESTS[$m]:-tests/core/test_$m.py}; do
        if [ -f "$WORK/$t" ] && [[ " ${selection[*]-} " != *" \"$t\" "* ]]; then
            selection+=("\"$t\"")
        fi
    done
done
join() {
    local IFS=,
    echo "$*"
}

cat >>"$WORK/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["src/itdose"]
only_mutate = [$(join "${only[@]}")]
pytest_add_cli_args_test_selection = [$(join "${selection[@]}")]
pytest_add_cli_args = ["-p", "no:cacheprovider"]
also_copy = ["docs"]
EOF
echo "== mutmut config"
sed -n '/^\[tool.mutmut\]/,$p' "$WORK/pyproject.toml"

echo "== mutmut run (modules: ${MODULES[*]})"
cd "$WORK"
export HYPOTHESIS_PROFILE=dev
start=$(date +%s)
.venv/bin/mutmut run --max-children "$JOBS" >"$WORK/run.log" 2>&1 || {
    tail -40 "$WORK/run.log"
    echo "mutmut run failed; log: $WORK/run.log" >&2
    exit 1
}
echo "   took $(($(date +%s) - start)) s; log: $WORK/run.log"

.venv/bin/mutmut results --all true >"$WORK/results.txt"
echo "== per-module score (killed includes timeouts; full list: $WORK/results.txt)"
.venv/bin/python - "$WORK/results.txt" <<'EOF'
import collections
import sys

counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
survivors: list[str] = []
for line in open(sys.argv[1], encoding="utf-8"):
    name, sep, status = line.strip().rpartition(": ")
    if not sep or "__mutmut_" not in name:
        continue
    module = name.split(".x_")[0].split(".xǁ")[0]
    counts[module][status] += 1
    if status not in ("killed", "timeout"):
        survivors.append(f"{name}: {status}")
print(f"{'module':32} {'killed':>7} {'timeout':>8} {'survived':>9} {'other':>6} {'total':>6}")
for module, c in sorted(counts.items()):
    total = sum(c.values())
    other = total - c["killed"] - c["timeout"] - c["survived"]
    print(f"{module:32} {c['killed']:7} {c['timeout']:8} {c['survived']:9} {other:6} {total:6}")
print("\nnot killed (inspect with: cd $MUT_WORK && .venv/bin/mutmut show NAME):")
print("\n".join(survivors) or "  none")
EOF
