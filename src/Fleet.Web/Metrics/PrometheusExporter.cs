using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Fleet.Core.Diagnostics;

namespace Fleet.Web.Metrics;

/// <summary>
/// Collects this host's <see cref="FleetMeter"/> instruments with a <see cref="MeterListener"/> and writes them in the
/// Prometheus text exposition format 0.0.4. Only meters of this host's <see cref="IMeterFactory"/> are read, so two
/// hosts in one process (tests) do not mix. Names follow the OpenTelemetry-to-Prometheus rules: dots become
/// underscores, unit <c>s</c> adds <c>_seconds</c>, counters end in <c>_total</c>. Counters and histograms are
/// cumulative from start; observable instruments are read at each scrape.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener;
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly Lock _scrapeGate = new();

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name == FleetMeter.Name
                    && InstrumentState.TryCreate(instrument) is { } state)
                {
                    _instruments[instrument] = state;
                    listener.EnableMeasurementEvents(instrument, state);
                }
            },
            MeasurementsCompleted = (instrument, state) => _instruments.TryRemove(instrument, out _),
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Reads the observable instruments and writes every metric family, sorted by name.</summary>
    public string Scrape()
    {
        // One scrape at a time: observable series are cleared and refilled by the callbacks.
        lock (_scrapeGate)
        {
            var states = _instruments.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            foreach (var state in states)
            {
                state.BeginObservation();
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var state in states)
            {
                state.Write(text);
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private enum MetricType
    {
        Counter,
        Gauge,
        Histogram,
    }

    /// <summary>One instrument: its Prometheus name, type and help, and a series per label set.</summary>
    private sealed class InstrumentState
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly MetricType _type;
        private readonly bool _observable;
        private readonly double[] _bounds;
        private readonly string _help;

        private InstrumentState(string name, MetricType type, bool observable, string help, double[] bounds)
        {
            Name = name;
            _type = type;
            _observable = observable;
            _help = help;
            _bounds = bounds;
            if (!observable)
            {
                // A counter or histogram without labels shows 0 before its first measurement, as Prometheus expects.
                _series[""] = new Series(bounds.Length);
            }
        }

        public string Name { get; }

        public static InstrumentState? TryCreate(Instrument instrument)
        {
            (MetricType Type, bool Observable)? kind = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> or Counter<float> => (MetricType.Counter, false),
                ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> or ObservableCounter<float> => (MetricType.Counter, true),
                UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> or UpDownCounter<float> => (MetricType.Gauge, false),
                ObservableUpDownCounter<long> or ObservableUpDownCounter<int> or ObservableUpDownCounter<double> or ObservableUpDownCounter<float> => (MetricType.Gauge, true),
                ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double> or ObservableGauge<float> => (MetricType.Gauge, true),
                Histogram<long> or Histogram<int> or Histogram<double> or Histogram<float> => (MetricType.Histogram, false),
                _ => null, // Gauge<T> and other kinds Fleet does not use.
            };
            if (kind is not var (type, observable))
            {
                return null;
            }

            var bounds = type == MetricType.Histogram ? HistogramBounds(instrument) : [];
            return new InstrumentState(PrometheusName(instrument, type), type, observable, instrument.Description ?? instrument.Name, bounds);
        }

        /// <summary>Observable series are rebuilt at each scrape, so a label set that is no longer reported disappears.</summary>
        public void BeginObservation()
        {
            if (_observable)
            {
                _series.Clear();
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(LabelText(tags), static (_, buckets) => new Series(buckets), _bounds.Length);
            if (_type == MetricType.Histogram)
            {
                series.Observe(value, _bounds);
            }
            else if (_observable)
            {
                series.Set(value);
            }
            else
            {
                series.Add(value);
            }
        }

        public void Write(StringBuilder text)
        {
            text.Append("# HELP ").Append(Name).Append(' ').Append(EscapeHelp(_help)).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(_type switch
            {
                MetricType.Counter => "counter",
                MetricType.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');

            var labelled = _series.Count > 1;
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                var snapshot = series.Read();
                if (labels.Length == 0 && labelled && !snapshot.Measured)
                {
                    continue; // the unlabelled zero of an instrument that turned out to carry labels
                }

                if (_type == MetricType.Histogram)
                {
                    WriteHistogram(text, labels, snapshot);
                }
                else
                {
                    WriteSample(text, Name, labels, null, snapshot.Value);
                }
            }
        }

        private void WriteHistogram(StringBuilder text, string labels, SeriesSnapshot snapshot)
        {
            long cumulative = 0;
            for (var i = 0; i < _bounds.Length; i++)
            {
                cumulative += snapshot.Buckets[i];
                WriteSample(text, Name + "_bucket", labels, "le=\"" + FormatValue(_bounds[i]) + "\"", cumulative);
            }

            WriteSample(text, Name + "_bucket", labels, "le=\"+Inf\"", snapshot.Count);
            WriteSample(text, Name + "_sum", labels, null, snapshot.Value);
            WriteSample(text, Name + "_count", labels, null, snapshot.Count);
        }

        private static void WriteSample(StringBuilder text, string name, string labels, string? extraLabel, double value)
        {
            text.Append(name);
            if (labels.Length > 0 || extraLabel is not null)
            {
                text.Append('{').Append(labels);
                if (extraLabel is not null)
                {
                    text.Append(labels.Length > 0 ? "," : "").Append(extraLabel);
                }

                text.Append('}');
            }

            text.Append(' ').Append(FormatValue(value)).Append('\n');
        }

        private static double[] HistogramBounds(Instrument instrument)
        {
            var advised = instrument switch
            {
                Histogram<double> h => h.Advice?.HistogramBucketBoundaries,
                Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToList(),
                Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToList(),
                Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToList(),
                _ => null,
            };
            return [.. (advised ?? FleetMeter.DurationBuckets).Where(double.IsFinite).Order().Distinct()];
        }

        private static string PrometheusName(Instrument instrument, MetricType type)
        {
            var name = new StringBuilder(instrument.Name.Length + 16);
            foreach (var c in instrument.Name)
            {
                name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
            }

            var unit = instrument.Unit switch
            {
                "s" => "_seconds",
                "ms" => "_milliseconds",
                "By" => "_bytes",
                _ => "",
            };
            if (unit.Length > 0 && !name.ToString().EndsWith(unit, StringComparison.Ordinal))
            {
                name.Append(unit);
            }

            if (type == MetricType.Counter && !name.ToString().EndsWith("_total", StringComparison.Ordinal))
            {
                name.Append("_total");
            }

            return name.ToString();
        }

        /// <summary><c>a="x",b="y"</c>, sorted by name, so one label set always maps to one series.</summary>
        private static string LabelText(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.IsEmpty)
            {
                return "";
            }

            var sorted = tags.ToArray();
            Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var text = new StringBuilder();
            foreach (var (key, value) in sorted)
            {
                if (text.Length > 0)
                {
                    text.Append(',');
                }

                foreach (var c in key)
                {
                    text.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
                }

                text.Append("=\"");
                foreach (var c in Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
                {
                    switch (c)
                    {
                        case '\\':
                            text.Append("\\\\");
                            break;
                        case '"':
                            text.Append("\\\"");
                            break;
                        case '\n':
                            text.Append("\\n");
                            break;
                        default:
                            text.Append(c);
                            break;
                    }
                }

                text.Append('"');
            }

            return text.ToString();
        }

        private static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

        private static string FormatValue(double value) => value switch
        {
            double.PositiveInfinity => "+Inf",
            double.NegativeInfinity => "-Inf",
            double.NaN => "NaN",
            _ => value.ToString(CultureInfo.InvariantCulture),
        };
    }

    private readonly record struct SeriesSnapshot(bool Measured, double Value, long Count, long[] Buckets);

    /// <summary>A counter's or gauge's value, or a histogram's buckets, sum and count. Updates are rare (per batch), so a lock is cheap.</summary>
    private sealed class Series(int buckets)
    {
        private readonly Lock _gate = new();
        private readonly long[] _buckets = new long[buckets];
        private bool _measured;
        private double _value;
        private long _count;

        public void Add(double value)
        {
            lock (_gate)
            {
                _value += value;
                _measured = true;
            }
        }

        public void Set(double value)
        {
            lock (_gate)
            {
                _value = value;
                _measured = true;
            }
        }

        public void Observe(double value, double[] bounds)
        {
            var bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket])
            {
                bucket++;
            }

            lock (_gate)
            {
                if (bucket < _buckets.Length)
                {
                    _buckets[bucket]++;
                }

                _value += value;
                _count++;
                _measured = true;
            }
        }

        public SeriesSnapshot Read()
        {
            lock (_gate)
            {
                return new SeriesSnapshot(_measured, _value, _count, (long[])_buckets.Clone());
            }
        }
    }
}
