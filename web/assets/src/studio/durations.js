// ISO 8601 durations as people read them: P1DT12H -> "1 day 12 hours".
const PARTS = [["Y", "year"], ["M", "month"], ["W", "week"], ["D", "day"]];
const TIME_PARTS = [["H", "hour"], ["M", "minute"], ["S", "second"]];
const DURATION = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

export function describeDuration(text) {
  const match = DURATION.exec((text || "").trim().toUpperCase());
  if (!match || text.trim().toUpperCase() === "P" || text.trim().toUpperCase().endsWith("T")) {
    return `'${text}' is not an ISO 8601 duration (PT4H is 4 hours, P2D is 2 days).`;
  }
  const units = [...PARTS, ...TIME_PARTS];
  const said = units.map(([, unit], index) => {
    const value = match[index + 1];
    return value ? `${value} ${unit}${value === "1" ? "" : "s"}` : null;
  }).filter(Boolean);
  return `${text} is ${said.join(" ")}.`;
}
