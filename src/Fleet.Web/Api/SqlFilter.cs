using Npgsql;

namespace Fleet.Web.Api;

/// <summary>
/// Builds a WHERE clause from conditions whose values are always bound as positional parameters ($1, $2, …):
/// user input never becomes SQL text. The same filter can bind fresh parameters onto several commands.
/// </summary>
public sealed class SqlFilter
{
    private readonly List<string> _conditions = [];
    private readonly List<object> _values = [];

    /// <summary>Binds <paramref name="value"/> and returns its placeholder for use in a condition.</summary>
    public string Bind(object value)
    {
        _values.Add(value);
        return "$" + _values.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Add(string condition) => _conditions.Add(condition);

    /// <summary>Parameters bound so far; a command that adds its own after them numbers them from Count + 1.</summary>
    public int Count => _values.Count;

    public string Where => _conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", _conditions);

    public void AddParametersTo(NpgsqlCommand command)
    {
        foreach (var value in _values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }
    }
}
