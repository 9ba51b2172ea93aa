using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fleet.Core.Telemetry;
using Fleet.TestSupport.Telemetry;

namespace Fleet.Core.Tests.Telemetry;

/// <summary>
/// The parser against 100,000 mutated payloads (<see cref="TelemetryFuzzCorpus"/>): each is refused with a reason, or
/// accepted because it is valid, and an accepted report meets every bound of the protocol. An independent reading of
/// each payload (<see cref="JsonDocument"/>, which unescapes names and keeps every duplicate) says which verdict is
/// right, so a report the parser misreads (an escaped name taken for an unknown field, say) fails here too. No
/// exception may escape, and the parser's allocation per payload stays small whatever the payload's size.
/// </summary>
public sealed class TelemetryParserFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 5_2026;

    // 2026-11-22T04:00:00Z: a fixed "now", so window-edge timestamps sit exactly 1 ms inside or outside.
    private const long Now = 1_795_320_000_000;

    // Allocation allowed per payload. A valid report allocates nothing (TelemetryParserTests); a malformed one costs
    // the reader's JsonException, whose message transcodes the rest of the payload after a bad literal (about 6 bytes
    // per payload byte, seen with a 20 KB number after "nan"). Payloads over 64 KiB are refused before any reading, so
    // a 1 MB payload costs nothing.
    private const long MaxAllocatedFixed = 64 * 1024;
    private const long MaxAllocatedPerPayloadByte = 8;

    private static readonly string[] ProtocolFields = ["ts", "seq", "lat", "lon", "spd", "hdg", "alt", "acc", "odo", "fuel", "soc", "sats", "hdop", "alarm", "obd"];

    private static readonly TelemetryLimits Limits = TelemetryLimits.Default;

    [Fact]
    public void Hundred_thousand_mutated_payloads_are_each_refused_with_a_reason_or_accepted_because_valid()
    {
        var corpus = new TelemetryFuzzCorpus(Seed, Now);
        var fixes = new TelemetryFix[Limits.MaxReportsPerPayload];

        // Sized for the largest backlog up front, so list growth is not mistaken for the parser allocating.
        var rejects = new List<TelemetryReject>(Limits.MaxReportsPerPayload + 1);
        var byKind = new Dictionary<TelemetryFuzzKind, (int Payloads, int Accepted, int Rejected)>();
        var byReason = new Dictionary<TelemetryRejectReason, int>();
        var failures = new List<string>();
        long totalBytes = 0, maxAllocated = 0, parseTicks = 0, generateTicks = 0;
        string? maxAllocatedAt = null;

        // The first JsonException loads its resources; that one-off cost is not the parser's per payload.
        TelemetryParser.Parse("{\"ts\":"u8, Now, fixes, rejects, Limits);
        var stopwatch = Stopwatch.StartNew();
        for (var index = 0; index < TelemetryFuzzCorpus.DefaultCount; index++)
        {
            var generating = Stopwatch.GetTimestamp();
            var item = corpus.Create(index);
            generateTicks += Stopwatch.GetTimestamp() - generating;
            rejects.Clear();
            int count;
            long allocated;
            var started = Stopwatch.GetTimestamp();
            try
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                count = TelemetryParser.Parse(item.Bytes, Now, fixes, rejects, Limits);
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            catch (Exception e)
            {
                failures.Add($"{item}: threw {e.GetType().Name}: {e.Message}");
                continue;
            }

            parseTicks += Stopwatch.GetTimestamp() - started;
            totalBytes += item.Bytes.Length;
            if (allocated > maxAllocated)
            {
                (maxAllocated, maxAllocatedAt) = (allocated, item.ToString());
            }

            if (allocated > MaxAllocatedFixed + (MaxAllocatedPerPayloadByte * Math.Min(item.Bytes.Length, Limits.MaxPayloadBytes)))
            {
                failures.Add($"{item}: the parser allocated {allocated} bytes");
            }

            string? problem;
            try
            {
                problem = Check(item.Bytes, count, fixes, rejects);
            }
            catch (ArgumentException e)
            {
                problem = $"a fix points outside the payload: {e.Message}"; // Obd's range.
            }

            if (problem is not null)
            {
                failures.Add($"{item}: {problem}\n    payload: {Preview(item.Bytes)}\n    rejects: {string.Join(", ", rejects)}");
            }

            var tally = byKind.GetValueOrDefault(item.Kind);
            byKind[item.Kind] = (tally.Payloads + 1, tally.Accepted + count, tally.Rejected + rejects.Count);
            foreach (var reject in rejects)
            {
                byReason[reject.Reason] = byReason.GetValueOrDefault(reject.Reason) + 1;
            }
        }

        stopwatch.Stop();
        output.WriteLine($"{TelemetryFuzzCorpus.DefaultCount} payloads ({totalBytes / 1024 / 1024} MiB) in {stopwatch.ElapsedMilliseconds} ms, of which generating {Stopwatch.GetElapsedTime(0, generateTicks).TotalMilliseconds:0} ms, parsing {Stopwatch.GetElapsedTime(0, parseTicks).TotalMilliseconds:0} ms, the rest the independent check");
        output.WriteLine($"largest allocation by the parser for one payload: {maxAllocated} bytes ({maxAllocatedAt})");
        foreach (var (kind, tally) in byKind.OrderBy(k => k.Key))
        {
            output.WriteLine($"  {kind,-13} {tally.Payloads,6} payloads → {tally.Accepted,6} reports accepted, {tally.Rejected,6} rejects");
        }

        foreach (var (reason, count) in byReason.OrderBy(k => k.Key))
        {
            output.WriteLine($"  {reason,-18} {count,6}");
        }

        Assert.True(failures.Count == 0, $"{failures.Count} payloads went wrong (seed {Seed}); the first ones:\n{string.Join("\n", failures.Take(10))}\nby kind: {string.Join(", ", failures.GroupBy(f => f.Split(' ')[1]).Select(g => $"{g.Key} {g.Count()}"))}");

        // The corpus must reach every verdict, or it tests less than it claims.
        Assert.All(Enum.GetValues<TelemetryFuzzKind>(), kind => Assert.True(byKind.ContainsKey(kind), $"no {kind} payload"));
        TelemetryRejectReason[] parserReasons =
        [
            TelemetryRejectReason.PayloadTooLarge, TelemetryRejectReason.MalformedJson, TelemetryRejectReason.NotAnObject, TelemetryRejectReason.TooManyReports,
            TelemetryRejectReason.MissingTimestamp, TelemetryRejectReason.MissingPosition, TelemetryRejectReason.InvalidPosition,
            TelemetryRejectReason.TimestampInFuture, TelemetryRejectReason.TimestampTooOld, TelemetryRejectReason.SpeedOutOfRange, TelemetryRejectReason.InvalidField,
        ];
        Assert.All(parserReasons, reason => Assert.True(byReason.GetValueOrDefault(reason) > 0, $"no {reason} reject"));
        Assert.True(byKind.Values.Sum(t => t.Accepted) > 20_000, "too few reports accepted: the mutations are too destructive to test the accept path");
    }

    [Fact]
    public void The_corpus_is_the_same_for_the_same_seed_and_differs_for_another()
    {
        var first = new TelemetryFuzzCorpus(Seed, Now).Generate(500, start: 1_000).ToList();
        var again = new TelemetryFuzzCorpus(Seed, Now).Generate(500, start: 1_000).ToList();
        var other = new TelemetryFuzzCorpus(Seed + 1, Now).Generate(500, start: 1_000).ToList();

        Assert.All(first.Zip(again), pair => Assert.Equal(pair.First.Bytes, pair.Second.Bytes));
        Assert.True(first.Zip(other).Count(pair => !pair.First.Bytes.AsSpan().SequenceEqual(pair.Second.Bytes)) > 400);

        // One payload regenerates on its own, as a failure message asks.
        Assert.Equal(first[123].Bytes, new TelemetryFuzzCorpus(Seed, Now).Create(1_123).Bytes);
    }

    // Found by the gateway's fuzz test: at this "now", payload #32911's flipped ts digit put its report 272 ms past
    // the future edge, so the gateway, parsing a second later, accepted what the local parse had refused. A corpus
    // with an edge margin must give every payload one verdict anywhere within that margin.
    [Fact]
    public void A_corpus_with_an_edge_margin_gives_each_payload_one_verdict_throughout_the_margin()
    {
        const long now = 1_796_552_657_227;
        var margin = (long)TimeSpan.FromMinutes(5).TotalMilliseconds;
        var corpus = new TelemetryFuzzCorpus(Seed, now, margin);
        var fixes = new TelemetryFix[Limits.MaxReportsPerPayload];
        var atNow = new List<TelemetryReject>();
        var later = new List<TelemetryReject>();
        var differing = new List<string>();

        foreach (var item in corpus.Generate(1_000, start: 32_500))
        {
            atNow.Clear();
            later.Clear();
            var acceptedAtNow = TelemetryParser.Parse(item.Bytes, now, fixes, atNow, Limits);
            var acceptedLater = TelemetryParser.Parse(item.Bytes, now + 1_000, fixes, later, Limits);
            if (acceptedAtNow != acceptedLater || !atNow.SequenceEqual(later))
            {
                differing.Add($"{item}: {acceptedAtNow} accepted at now, {acceptedLater} a second later ({string.Join(", ", atNow)} / {string.Join(", ", later)})");
            }
        }

        Assert.True(differing.Count == 0, string.Join("\n", differing));
    }

    // Found by the corpus: a name escaped whole ("alarm" is 30 bytes so) was taken for an unknown field, which let
    // an out-of-range speed through unseen and lost an escaped lat, seq or hdop.
    [Theory]
    [InlineData("\\u0073\\u0070\\u0064", "400", TelemetryRejectReason.SpeedOutOfRange, "spd")]
    [InlineData("\\u0061\\u006c\\u0061\\u0072\\u006D", "4294967296", TelemetryRejectReason.InvalidField, "alarm")]
    [InlineData("\\u0068\\u0064\\u006f\\u0070", "-1", TelemetryRejectReason.InvalidField, "hdop")]
    // Found by the corpus: hdop is stored as real, and 3.5e38 is a finite double but an infinite float.
    [InlineData("hdop", "3.5e38", TelemetryRejectReason.InvalidField, "hdop")]
    [InlineData("hdop", "1e308", TelemetryRejectReason.InvalidField, "hdop")]
    public void A_field_the_fuzzer_slipped_past_the_parser_is_now_refused(string name, string value, TelemetryRejectReason reason, string field)
    {
        var rejects = new List<TelemetryReject>();
        var json = $"{{\"ts\":{Now},\"lat\":40.8,\"lon\":111.7,\"{name}\":{value}}}";

        var count = TelemetryParser.Parse(Encoding.UTF8.GetBytes(json), Now, new TelemetryFix[Limits.MaxReportsPerPayload], rejects);

        Assert.Equal(0, count);
        Assert.Equal([new TelemetryReject(0, reason, field)], rejects);
    }

    [Fact]
    public void A_fully_escaped_field_name_is_read_as_that_field()
    {
        var fixes = new TelemetryFix[Limits.MaxReportsPerPayload];
        var json = $"{{\"\\u0074\\u0073\":{Now},\"\\u006c\\u0061\\u0074\":40.8,\"lon\":111.7,\"\\u0061\\u006c\\u0061\\u0072\\u006d\":256,\"\\u0073\\u0065\\u0071\":7}}";

        Assert.Equal(1, TelemetryParser.Parse(Encoding.UTF8.GetBytes(json), Now, fixes, []));
        Assert.Equal((Now, 40.8, 256u, 7u), (fixes[0].Ts, fixes[0].Lat, fixes[0].Alarm, fixes[0].Seq));
    }

    /// <summary>Returns what is wrong with the parser's verdict on <paramref name="payload"/>, or null.</summary>
    private static string? Check(byte[] payload, int count, TelemetryFix[] fixes, List<TelemetryReject> rejects)
    {
        if (rejects.Any(r => r.Reason == TelemetryRejectReason.None))
        {
            return "a reject without a reason";
        }

        var expected = Expect(payload);
        if (expected.Whole is { } whole)
        {
            if (count != 0 || rejects.Count != 1 || rejects[0].Index != -1 || rejects[0].Reason != whole)
            {
                return $"expected the whole payload refused as {whole}, got {count} fixes";
            }

            return null;
        }

        // Every report is accounted for: accepted or refused, once.
        if (count + rejects.Count != expected.Reports.Count)
        {
            return $"{expected.Reports.Count} reports, but {count} accepted and {rejects.Count} refused";
        }

        var fixIndex = 0;
        var rejectIndex = 0;
        for (var i = 0; i < expected.Reports.Count; i++)
        {
            var report = expected.Reports[i];
            if (report.Reject is { } reason)
            {
                if (rejectIndex >= rejects.Count || rejects[rejectIndex].Index != i || rejects[rejectIndex].Reason != reason.Reason || rejects[rejectIndex].Field != reason.Field)
                {
                    return $"report {i}: expected {reason.Reason} ({reason.Field})";
                }

                if (reason.Reason is not (TelemetryRejectReason.NotAnObject) && !ProtocolFields.Contains(rejects[rejectIndex].Field))
                {
                    return $"report {i}: refused without naming a protocol field";
                }

                rejectIndex++;
                continue;
            }

            var fix = fixes[fixIndex++];
            var problem = Bounds(fix, payload) ?? Compare(report.Fix!, fix, payload);
            if (problem is not null)
            {
                return $"report {i} accepted: {problem}";
            }
        }

        return null;
    }

    /// <summary>The protocol's bounds, checked on the fix alone.</summary>
    private static string? Bounds(in TelemetryFix fix, byte[] payload)
    {
        if (!(double.IsFinite(fix.Lat) && fix.Lat is >= -90 and <= 90 && double.IsFinite(fix.Lon) && fix.Lon is >= -180 and <= 180))
        {
            return $"position {fix.Lat}, {fix.Lon}";
        }

        if (fix.Ts > Now + (long)Limits.MaxClockAhead.TotalMilliseconds || fix.Ts < Now - (long)Limits.MaxAge.TotalMilliseconds)
        {
            return $"ts {fix.Ts} outside the window";
        }

        static bool AbsentOr(float value, double min, double max) => float.IsNaN(value) || (float.IsFinite(value) && value >= min && value <= max);

        if (!AbsentOr(fix.Spd, 0, Limits.MaxSpeedKmh) || !AbsentOr(fix.Alt, -100_000, 100_000) || !AbsentOr(fix.Fuel, 0, 100) || !AbsentOr(fix.Soc, 0, 100)
            || !AbsentOr(fix.Hdop, 0, float.MaxValue))
        {
            return $"spd {fix.Spd}, alt {fix.Alt}, fuel {fix.Fuel}, soc {fix.Soc}, hdop {fix.Hdop}";
        }

        if (!(double.IsNaN(fix.Odo) || (double.IsFinite(fix.Odo) && fix.Odo >= 0)) || fix.Hdg is < -1 or > 359 || fix.Sats is < -1 or > 255)
        {
            return $"odo {fix.Odo}, hdg {fix.Hdg}, sats {fix.Sats}";
        }

        if (fix.HasObd)
        {
            var (offset, length) = fix.Obd.GetOffsetAndLength(payload.Length);
            if (payload[offset] != (byte)'{' || payload[offset + length - 1] != (byte)'}')
            {
                return "obd is not an object";
            }
        }

        return null;
    }

    private static string? Compare(ExpectedFix expected, in TelemetryFix fix, byte[] payload)
    {
        var actualObd = fix.HasObd ? Encoding.UTF8.GetString(payload[fix.Obd]) : null;
        var actual = new ExpectedFix(fix.Ts, fix.Seq, fix.Lat, fix.Lon, fix.Spd, fix.Hdg, fix.Alt, fix.Acc, fix.Odo, fix.Fuel, fix.Soc, fix.Sats, fix.Hdop, fix.Alarm, actualObd);
        return actual == expected ? null : $"read as {actual}, but the payload says {expected}";
    }

    private sealed record ExpectedFix(long Ts, uint Seq, double Lat, double Lon, float Spd, short Hdg, float Alt, bool? Acc, double Odo, float Fuel, float Soc, short Sats, float Hdop, uint Alarm, string? Obd);

    private sealed record ExpectedReport(ExpectedFix? Fix, (TelemetryRejectReason Reason, string? Field)? Reject);

    private sealed record Expected(TelemetryRejectReason? Whole, List<ExpectedReport> Reports);

    /// <summary>The verdict the protocol asks for, read independently with <see cref="JsonDocument"/>.</summary>
    private static Expected Expect(byte[] payload)
    {
        if (payload.Length > Limits.MaxPayloadBytes)
        {
            return new Expected(TelemetryRejectReason.PayloadTooLarge, []);
        }

        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(payload);
        }
        catch (DecoderFallbackException)
        {
            return new Expected(TelemetryRejectReason.MalformedJson, []);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException)
        {
            return new Expected(TelemetryRejectReason.MalformedJson, []);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return new Expected(null, [ExpectReport(root)]);
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                return new Expected(TelemetryRejectReason.NotAnObject, []);
            }

            if (root.GetArrayLength() > Limits.MaxReportsPerPayload)
            {
                return new Expected(TelemetryRejectReason.TooManyReports, []);
            }

            var reports = new List<ExpectedReport>();
            foreach (var element in root.EnumerateArray())
            {
                reports.Add(element.ValueKind == JsonValueKind.Object ? ExpectReport(element) : new ExpectedReport(null, (TelemetryRejectReason.NotAnObject, null)));
            }

            return new Expected(null, reports);
        }
    }

    /// <summary>
    /// One report by the protocol: null means absent; any other value of a known field must be valid (the first
    /// invalid one is named); the last valid value counts. Which reason wins when several apply is the parser's
    /// documented order: a missing ts, then an invalid field, a missing position, the ranges, then the time window.
    /// </summary>
    private static ExpectedReport ExpectReport(JsonElement report)
    {
        long? ts = null;
        uint seq = 0, alarm = 0;
        double lat = double.NaN, lon = double.NaN, odo = double.NaN, spd = double.NaN;
        float alt = float.NaN, fuel = float.NaN, soc = float.NaN, hdop = float.NaN;
        short hdg = -1, sats = -1;
        bool? acc = null;
        string? obd = null;
        string? invalid = null;
        foreach (var property in report.EnumerateObject())
        {
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null || !ProtocolFields.Contains(property.Name))
            {
                continue;
            }

            var number = value.ValueKind == JsonValueKind.Number;
            var finite = number && value.TryGetDouble(out var d) && double.IsFinite(d) ? d : double.NaN;
            var ok = property.Name switch
            {
                "ts" => number && value.TryGetInt64(out _),
                "seq" or "alarm" => number && value.TryGetUInt32(out _),
                "lat" or "lon" or "spd" => !double.IsNaN(finite),
                "hdg" => number && value.TryGetInt32(out var h) && h is >= 0 and <= 359,
                "sats" => number && value.TryGetInt32(out var s) && s is >= 0 and <= 255,
                "alt" => Math.Abs(finite) <= 100_000,
                "odo" => finite >= 0,
                "fuel" or "soc" => finite is >= 0 and <= 100,
                "hdop" => finite >= 0 && finite <= float.MaxValue,
                "acc" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
                _ => value.ValueKind == JsonValueKind.Object && Storable(value), // obd
            };

            if (property.Name == "ts")
            {
                ts = ok ? value.GetInt64() : null; // An invalid ts unsets an earlier one.
            }

            if (!ok)
            {
                invalid ??= property.Name;
                continue;
            }

            switch (property.Name)
            {
                case "seq": seq = value.GetUInt32(); break;
                case "alarm": alarm = value.GetUInt32(); break;
                case "lat": lat = finite; break;
                case "lon": lon = finite; break;
                case "spd": spd = finite; break;
                case "hdg": hdg = (short)value.GetInt32(); break;
                case "sats": sats = (short)value.GetInt32(); break;
                case "alt": alt = (float)finite; break;
                case "odo": odo = finite; break;
                case "fuel": fuel = (float)finite; break;
                case "soc": soc = (float)finite; break;
                case "hdop": hdop = (float)finite; break;
                case "acc": acc = value.GetBoolean(); break;
                case "obd": obd = value.GetRawText(); break;
            }
        }

        (TelemetryRejectReason, string?)? reject =
            ts is null && invalid != "ts" ? (TelemetryRejectReason.MissingTimestamp, "ts")
            : invalid is "lat" or "lon" ? (TelemetryRejectReason.InvalidPosition, invalid)
            : invalid is not null ? (TelemetryRejectReason.InvalidField, invalid)
            : double.IsNaN(lat) ? (TelemetryRejectReason.MissingPosition, "lat")
            : double.IsNaN(lon) ? (TelemetryRejectReason.MissingPosition, "lon")
            : lat is < -90 or > 90 ? (TelemetryRejectReason.InvalidPosition, "lat")
            : lon is < -180 or > 180 ? (TelemetryRejectReason.InvalidPosition, "lon")
            : spd is < 0 or > 300 ? (TelemetryRejectReason.SpeedOutOfRange, "spd")
            : ts > Now + (long)Limits.MaxClockAhead.TotalMilliseconds ? (TelemetryRejectReason.TimestampInFuture, "ts")
            : ts < Now - (long)Limits.MaxAge.TotalMilliseconds ? (TelemetryRejectReason.TimestampTooOld, "ts")
            : null;
        return reject is not null
            ? new ExpectedReport(null, reject)
            : new ExpectedReport(new ExpectedFix(ts!.Value, seq, lat, lon, (float)spd, hdg, alt, acc, odo, fuel, soc, sats, hdop, alarm, obd), null);
    }

    /// <summary>What jsonb can hold: no NUL and no lone surrogate in any string or name, numbers finite with a scale numeric keeps.</summary>
    private static bool Storable(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    return element.EnumerateObject().All(p => !p.Name.Contains('\0', StringComparison.Ordinal) && Storable(p.Value));
                case JsonValueKind.Array:
                    return element.EnumerateArray().All(Storable);
                case JsonValueKind.String:
                    return !element.GetString()!.Contains('\0', StringComparison.Ordinal);
                case JsonValueKind.Number:
                {
                    if (!element.TryGetDouble(out var value) || !double.IsFinite(value))
                    {
                        return false;
                    }

                    // Digits after the point, less the exponent: PostgreSQL's numeric keeps a scale of 16383 at most.
                    var raw = element.GetRawText().ToUpperInvariant();
                    var parts = raw.Split('E');
                    var point = parts[0].IndexOf('.', StringComparison.Ordinal);
                    var scale = point < 0 ? 0 : parts[0].Length - point - 1;
                    var exponent = parts.Length == 1 ? 0
                        : long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var e) ? e
                        : parts[1].StartsWith('-') ? long.MinValue / 2 : long.MaxValue / 2;
                    return scale - exponent <= 16_383;
                }

                default:
                    return true;
            }
        }
        catch (InvalidOperationException)
        {
            return false; // A lone surrogate escape cannot be read as a string.
        }
    }

    private static string Preview(byte[] payload)
    {
        var text = Encoding.UTF8.GetString(payload.AsSpan(0, Math.Min(payload.Length, 300)));
        return payload.Length <= 300 ? text : $"{text}… ({payload.Length} bytes)";
    }
}
