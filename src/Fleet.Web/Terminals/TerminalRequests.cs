using System.Text.Json;
using Fleet.Gateway.Broker;
using Fleet.Web.Api;

namespace Fleet.Web.Terminals;

/// <summary>
/// Reads the terminal API's JSON bodies by hand, so a client gets one 400 naming every bad field instead of the bare 400
/// of minimal API binding, and so PATCH can tell <c>"vehicleId": null</c> from a missing <c>vehicleId</c>.
/// </summary>
internal static class TerminalRequests
{
    private const string VehicleIdRule = "Must be a positive whole number, or null for no vehicle.";

    public static async Task<NewTerminal?> ReadNewAsync(HttpRequest request, BrokerOptions broker, FieldErrors errors, CancellationToken ct)
    {
        if (await ReadObjectAsync(request, errors, ct) is not { } body)
        {
            return null;
        }

        string? id = null;
        long? vehicleId = null;
        foreach (var property in body.EnumerateObject())
        {
            if (Is(property, "id"))
            {
                id = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                if (id is null)
                {
                    errors.Add("id", "Must be a string.");
                }
            }
            else if (Is(property, "vehicleId"))
            {
                vehicleId = VehicleId(property.Value, errors);
            }
            else
            {
                errors.Add(property.Name, "Unknown field; a new terminal takes id and vehicleId (the password is generated).");
            }
        }

        if (string.IsNullOrEmpty(id))
        {
            if (!errors.Errors.ContainsKey("id"))
            {
                errors.Add("id", "Required.");
            }
        }
        else if (!TerminalRules.IsValidId(id))
        {
            errors.Add("id", TerminalRules.IdRule);
        }
        else if (TerminalRules.IsReserved(id, broker))
        {
            errors.Add("id", $"Reserved for the platform's broker users (ids starting with '{TerminalRules.ReservedPrefix}'); choose another id.");
        }

        return errors.HasErrors ? null : new NewTerminal(id!, vehicleId);
    }

    public static async Task<TerminalChange?> ReadChangeAsync(HttpRequest request, FieldErrors errors, CancellationToken ct)
    {
        if (await ReadObjectAsync(request, errors, ct) is not { } body)
        {
            return null;
        }

        bool? enabled = null;
        var setsVehicle = false;
        long? vehicleId = null;
        foreach (var property in body.EnumerateObject())
        {
            if (Is(property, "enabled"))
            {
                if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    enabled = property.Value.GetBoolean();
                }
                else
                {
                    errors.Add("enabled", "Must be true or false.");
                }
            }
            else if (Is(property, "vehicleId"))
            {
                setsVehicle = true;
                vehicleId = VehicleId(property.Value, errors);
            }
            else
            {
                errors.Add(property.Name, "Unknown field; a change takes enabled and vehicleId (rotate the credential with POST …/credential).");
            }
        }

        return errors.HasErrors ? null : new TerminalChange(enabled, setsVehicle, vehicleId);
    }

    private static long? VehicleId(JsonElement value, FieldErrors errors)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var id) || id < 1)
        {
            errors.Add("vehicleId", VehicleIdRule);
            return null;
        }

        return id;
    }

    // Case-insensitive, as minimal API's own JSON binding is.
    private static bool Is(JsonProperty property, string name) => string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase);

    private static async Task<JsonElement?> ReadObjectAsync(HttpRequest request, FieldErrors errors, CancellationToken ct)
    {
        if (!request.HasJsonContentType())
        {
            errors.Add("body", "Send a JSON object with Content-Type: application/json.");
            return null;
        }

        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document.RootElement.Clone();
            }
        }
        catch (JsonException)
        {
            // Reported below, the same as valid JSON that is not an object.
        }

        errors.Add("body", "Must be a JSON object.");
        return null;
    }
}
